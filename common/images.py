"""Images from users: recognised by content, capped in pixels before decoding, and
re-encoded without metadata. Used for course package assets (courses.packages) and the
photos students send the tutor (tutor.photos)."""

import io
from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, Image, ImageOps

# Raster images only: SVG can carry scripts.
IMAGE_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
PILLOW_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
# What a re-encoded image keeps of the original's metadata: what drawing it needs.
_IMAGE_INFO_KEPT = {"transparency", "duration", "loop", "background", "disposal"}


class ImageRejected(ValueError):
    """Not an image of an accepted type, damaged, or too large. `reason` is one of
    "type", "pixels", "damaged"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    width: int
    height: int


def image_type(data: bytes, accepted: tuple[str, ...] = tuple(IMAGE_SIGNATURES)) -> str | None:
    """The content type `data` starts like (magic bytes), among `accepted`; None if none."""
    for content_type in accepted:
        if data.startswith(IMAGE_SIGNATURES[content_type]):
            if content_type == "image/webp" and data[8:12] != b"WEBP":
                continue
            return content_type
    return None


def image_clean(
    data: bytes, *, max_pixels: int, accepted: tuple[str, ...] = tuple(IMAGE_SIGNATURES)
) -> CleanImage:
    """`data` decoded and re-encoded without metadata, once its content type (by magic
    bytes, then by Pillow with only that decoder) and its header's pixel count (all
    frames) passed; ImageRejected otherwise."""
    content_type = image_type(data, accepted)
    if content_type is None:
        raise ImageRejected("type")
    try:
        with Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[content_type]]) as image:
            if image.width * image.height * getattr(image, "n_frames", 1) > max_pixels:
                raise ImageRejected("pixels")
            cleaned = image_without_metadata(image)
        with Image.open(io.BytesIO(cleaned)) as upright:  # turned by its EXIF orientation
            return CleanImage(cleaned, content_type, upright.width, upright.height)
    except Image.DecompressionBombError as exc:  # Pillow's own cap, far above ours
        raise ImageRejected("pixels") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, ImageRejected):
            raise
        # Pillow's errors for damaged and truncated files (UnidentifiedImageError is an
        # OSError).
        raise ImageRejected("damaged") from exc


def image_without_metadata(image: Image.Image) -> bytes:
    """`image` encoded again in its own format with only what drawing it needs: no EXIF
    (GPS position, camera, time), XMP, comments or colour profile. A photo's EXIF
    orientation is applied to the pixels first, so that it still shows upright."""
    image_format = image.format
    frames = getattr(image, "n_frames", 1)
    if frames == 1 and image.getexif().get(ExifTags.Base.Orientation, 1) != 1:
        image = ImageOps.exif_transpose(image)  # a plain copy, turned
    options: dict[str, Any] = {}
    if image_format == "JPEG":
        # The original's quantization tables (no second loss), unless the pixels turned.
        options["quality"] = "keep" if image.format == "JPEG" else 90
    elif image_format == "WEBP":
        options["quality"] = 90
    # The plug-ins write some of `info` (EXIF, XMP, comments, ICC profile) back out.
    image.info = {key: value for key, value in image.info.items() if key in _IMAGE_INFO_KEPT}
    output = io.BytesIO()
    image.save(output, image_format, save_all=frames > 1, **options)
    return output.getvalue()
