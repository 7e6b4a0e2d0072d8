"""Photos of a student's work sent to the tutor.

Checked by content, never by name or declared type: the first bytes must be those of a
JPEG, PNG or WebP image, the header's pixel count must be within TUTOR_PHOTO_MAX_PIXELS
(read before decoding, so a decompression bomb costs nothing), and Pillow must decode
it. It is then stored re-encoded without metadata (EXIF GPS position, camera, time) under
a random name (tutor.models._photo_path). The browser shrinks a photo before sending it
(frontend/src/tutor.ts), so TUTOR_PHOTO_MAX_BYTES can stay below the server's request
body limit.

A photo is only useful to a multimodal core: uploads are refused, with a message that
says why, when the inference worker's model takes text only.
"""

import base64
import io

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image

from common.errors import ApplicationError
from common.images import ImageRejected, image_clean
from common.inference import inference_client
from inference.errors import InferenceError
from tutor.models import Turn, TutorPhoto, TutorSession

ACCEPTED_TYPES = ("image/jpeg", "image/png", "image/webp")
_CAPABILITY_KEY = "tutor:model-accepts-images"
_CAPABILITY_SECONDS = 60


def model_accepts_images() -> bool:
    """Whether the configured core takes images (asked of the worker, remembered for a
    minute). ApplicationError when no worker answers."""
    known = cache.get(_CAPABILITY_KEY)
    if known is not None:
        return known

    async def ask() -> bool:
        async with inference_client() as client:
            return await client.accepts_images()

    try:
        accepts = async_to_sync(ask)()
    except InferenceError as exc:
        raise ApplicationError(
            _("The tutor is unavailable right now, so it cannot look at photos. Try again later.")
        ) from exc
    cache.set(_CAPABILITY_KEY, accepts, _CAPABILITY_SECONDS)
    return accepts


def photo_size_check(size: int) -> None:
    """ApplicationError unless a photo of `size` bytes may be stored (checked before an
    upload is read, and again on what was read)."""
    if size > settings.TUTOR_PHOTO_MAX_BYTES:
        raise ApplicationError(
            _("This photo is too large (at most %(mb)d MB). Take it again a little further away.")
            % {"mb": settings.TUTOR_PHOTO_MAX_BYTES // (1024 * 1024)}
        )
    if size == 0:
        raise ApplicationError(_("The photo is empty."))


def photo_add(*, session: TutorSession, data: bytes) -> TutorPhoto:
    """Check and store a photo for `session`'s next message. The caller checked that the
    learner may study the lesson, and applied the rate limit."""
    photo_size_check(len(data))
    try:
        image = image_clean(
            data, max_pixels=settings.TUTOR_PHOTO_MAX_PIXELS, accepted=ACCEPTED_TYPES
        )
    except ImageRejected as exc:
        messages = {
            "type": _("Send a photo (JPEG, PNG or WebP)."),
            "pixels": _("This photo has too many pixels (at most %(mp)d megapixels).")
            % {"mp": settings.TUTOR_PHOTO_MAX_PIXELS // 1_000_000},
            "damaged": _("This photo could not be read. Try taking it again."),
        }
        raise ApplicationError(messages[exc.reason]) from exc
    if not model_accepts_images():
        raise ApplicationError(
            _(
                "Photos need a tutor model that can see images; this school's tutor reads "
                "text only. Type your work or your question instead."
            )
        )
    photo = TutorPhoto(
        session=session,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        size=len(image.data),
    )
    photo.file.save("photo", ContentFile(image.data), save=False)
    photo.save()
    return photo


def photo_attach(*, session: TutorSession, photo_id: int, turn: Turn) -> TutorPhoto:
    """Attach an uploaded, unused photo of `session` to the student's `turn`."""
    with transaction.atomic():
        photo = (
            TutorPhoto.objects.select_for_update()
            .filter(pk=photo_id, session=session, turn__isnull=True)
            .first()
        )
        if photo is None:
            raise ApplicationError(_("That photo is gone. Attach it again."))
        photo.turn = turn
        photo.save(update_fields=["turn"])
    return photo


def photo_for_model(photo: TutorPhoto) -> str:
    """The photo as a data URL for the model, no larger than TUTOR_PHOTO_MODEL_MAX_SIDE
    on its longer side (image tokens grow with pixels)."""
    with photo.file.open("rb") as handle, Image.open(handle) as image:
        image = image.convert("RGB")
        image.thumbnail((settings.TUTOR_PHOTO_MODEL_MAX_SIDE,) * 2)
        output = io.BytesIO()
        image.save(output, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(output.getvalue()).decode()
