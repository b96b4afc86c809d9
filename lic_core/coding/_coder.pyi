# Type stub for the compiled native coder face (lic_core/_coder.pyx); see lic_core.coder.
from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt

MAX_PRECISION: int
PRECISION: int

_Ints = Union[npt.ArrayLike, "TableSet"]
_Bytes = Union[bytes, bytearray, memoryview, npt.NDArray[np.uint8]]

class TableSet:
    cdfs: npt.NDArray[np.int32]
    cdf_lengths: npt.NDArray[np.int32]
    offsets: npt.NDArray[np.int32]
    def __init__(self, cdfs: npt.ArrayLike, cdf_lengths: Optional[npt.ArrayLike] = ...,
                 offsets: Optional[npt.ArrayLike] = ..., *, precision: int = ...) -> None: ...
    @property
    def n_tables(self) -> int: ...
    @property
    def precision(self) -> int: ...

def encode(symbols: npt.ArrayLike, indexes: npt.ArrayLike, cdfs: _Ints,
           cdf_lengths: Optional[npt.ArrayLike] = ..., offsets: Optional[npt.ArrayLike] = ...,
           *, precision: int = ...) -> bytes: ...
def decode(data: _Bytes, indexes: npt.ArrayLike, cdfs: _Ints,
           cdf_lengths: Optional[npt.ArrayLike] = ..., offsets: Optional[npt.ArrayLike] = ...,
           *, precision: int = ...) -> npt.NDArray[np.int32]: ...
def stream_info(data: _Bytes) -> dict[str, Any]: ...

class StreamEncoder:
    tables: TableSet
    def __init__(self, cdfs: _Ints, cdf_lengths: Optional[npt.ArrayLike] = ...,
                 offsets: Optional[npt.ArrayLike] = ..., *, precision: int = ...) -> None: ...
    def encode(self, symbols: npt.ArrayLike, indexes: npt.ArrayLike) -> None: ...
    def flush(self) -> bytes: ...
    @property
    def n_staged(self) -> int: ...

class StreamDecoder:
    tables: TableSet
    def __init__(self, data: _Bytes, cdfs: _Ints, cdf_lengths: Optional[npt.ArrayLike] = ...,
                 offsets: Optional[npt.ArrayLike] = ..., *, precision: int = ...) -> None: ...
    def decode(self, indexes: npt.ArrayLike) -> npt.NDArray[np.int32]: ...
    def finish(self) -> None: ...
    @property
    def n_symbols(self) -> int: ...
    @property
    def n_decoded(self) -> int: ...
