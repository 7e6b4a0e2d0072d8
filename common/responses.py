"""Responses shared by the apps' views."""

from django.http import FileResponse, JsonResponse

from common.errors import ApplicationError


def user_file_response(file, content_type: str, *, cache_control: str = "") -> FileResponse:
    """A stored file that users uploaded (or a course carries), served so that a browser
    never runs it: its checked type, no sniffing, and a sandboxing policy."""
    response = FileResponse(file.open("rb"), content_type=content_type)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    if cache_control:
        response["Cache-Control"] = cache_control
    return response


def json_error(exc: ApplicationError) -> JsonResponse:
    """{"error": message} with 400, or 429 and Retry-After when rate-limited."""
    retry_after = exc.extra.get("retry_after")
    response = JsonResponse({"error": exc.message}, status=429 if retry_after else 400)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response
