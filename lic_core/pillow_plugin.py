"""Pillow plugin: ``PIL.Image.open("photo.lic")`` works after ``import lic_core``.

Opening reads the file and parses its header with the container (``lic_core.codec.
read_header``, the one reader of the format), with NumPy alone: a damaged or refused
file raises the container's error there. The pixels are decoded on ``load()`` by
``lic_core.codec.decode`` with that parsed header (the file is parsed once), which is
when torch and the zoo model are imported (files of integer synthesis need neither).
Writing goes through ``lic_core.compress`` (``img.save("x.lic")``, options ``model=``
and ``quality=``; default ``zoo.registry.DEFAULT_MODEL``, ``DEFAULT_QUALITY``).
"""
from __future__ import annotations

from PIL import Image, ImageFile

from . import codec, container
from .zoo.registry import DEFAULT_MODEL, DEFAULT_QUALITY

FORMAT = "LIC"


def _accept(prefix: bytes) -> bool:
    return prefix[:len(container.MAGIC)] == container.MAGIC


class LicImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "lic-core learned image compression"

    def _open(self) -> None:
        data = self.fp.read()
        if not _accept(data):
            raise SyntaxError("not a .lic file")
        header = codec.read_header(data)  # the one parse; a LicError names what is wrong
        self._mode = "RGB"
        self._size = (header.width, header.height)
        self.info["lic_version"] = header.version
        self.info["lic_model"] = header.model
        self.info["lic_quality"] = header.quality
        # One tile covering the image; the decoder gets the bytes and the parsed header.
        self.tile = [ImageFile._Tile("lic", (0, 0, header.width, header.height), 0,
                                     (data, header))]


class LicDecoder(ImageFile.PyDecoder):
    _pulls_fd = True

    def decode(self, buffer):
        data, header = self.args
        rgb = codec.decode(data, header=header)  # torch enters here for float synthesis
        self.set_as_raw(rgb.tobytes())
        return -1, 0


def _save(im, fp, filename) -> None:
    from .api import compress
    options = im.encoderinfo
    data = compress(im, model=options.get("model", DEFAULT_MODEL),
                    quality=options.get("quality", DEFAULT_QUALITY))
    fp.write(data)


Image.register_open(FORMAT, LicImageFile, _accept)
Image.register_decoder("lic", LicDecoder)
Image.register_save(FORMAT, _save)
Image.register_extension(FORMAT, ".lic")
Image.register_mime(FORMAT, "image/x-lic")

__all__ = ["LicImageFile", "LicDecoder"]
