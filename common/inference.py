"""The Django side's handle on the inference worker(s): one configured client.

Everything Django-side reaches the model through `inference.client` (no vllm, no torch);
this builds it from settings so URLs and timeouts are read in one place.
"""

from django.conf import settings

from inference.client import InferenceClient


def inference_client(*, timeout_s: float | None = None) -> InferenceClient:
    """A client for settings.INFERENCE_URLS; use as `async with inference_client() as c:`."""
    return InferenceClient(
        settings.INFERENCE_URLS,
        api_key=settings.INFERENCE_API_KEY or None,
        timeout_s=timeout_s or settings.INFERENCE_TIMEOUT_SECONDS,
    )
