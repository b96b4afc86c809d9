"""Pillow plugin: ``PIL.Image.open("photo.lic")`` works after ``import lic_core``.

Opening reads only the container header (size, mode), with NumPy alone; the
pixels are decoded on ``load()``, which is when torch and the zoo model are
imported. Writing goes through ``lic_core.compress`` (``img.save("x.lic")``,
options ``model=`` and ``quality=``; default hyperprior, quality 3).
"""
from __future__ import annotations

from PIL import Image, ImageFile

from . import container

FORMAT = "LIC"
_FIXED_HEADER = 24


def _accept(prefix: bytes) -> bool:
    return prefix[:len(container.MAGIC)] == container.MAGIC


class LicImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "lic-core learned image compression"

    def _open(self) -> None:
        head = self.fp.read(_FIXED_HEADER)
        if not _accept(head):
            raise SyntaxError("not a .lic file")
        if len(head) < _FIXED_HEADER:
            raise SyntaxError("truncated .lic header")
        version, model_id, quality = head[8], head[9], head[10]
        height = int.from_bytes(head[16:20], "little")
        width = int.from_bytes(head[20:24], "little")
        self._mode = "RGB"
        self._size = (width, height)
        self.info["lic_version"] = version
        self.info["lic_model"] = container.MODEL_NAMES.get(model_id, f"id {model_id}")
        self.info["lic_quality"] = quality
        # One tile covering the image; the decoder pulls the whole file from offset 0.
        self.tile = [ImageFile._Tile("lic", (0, 0, width, height), 0, None)]


class LicDecoder(ImageFile.PyDecoder):
    _pulls_fd = True

    def decode(self, buffer):
        from .api import decompress  # torch enters here, on load()
        assert self.fd is not None
        self.fd.seek(0)
        rgb = decompress(self.fd.read())
        self.set_as_raw(rgb.tobytes())
        return -1, 0


def _save(im, fp, filename) -> None:
    from .api import compress
    options = im.encoderinfo
    data = compress(im, model=options.get("model", "hyperprior"), quality=options.get("quality", 3))
    fp.write(data)


Image.register_open(FORMAT, LicImageFile, _accept)
Image.register_decoder("lic", LicDecoder)
Image.register_save(FORMAT, _save)
Image.register_extension(FORMAT, ".lic")
Image.register_mime(FORMAT, "image/x-lic")

__all__ = ["LicImageFile", "LicDecoder"]
