"""lic_core.testing keeps its promises: valid strategies make input every face accepts,
hostile ones make input refused with a LicError, damage is refused or decodes without a
crash, the assertions catch what they claim to, and importing the package needs neither
Hypothesis nor torch."""
import dataclasses
import doctest
import os
import re
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

import lic_core
import lic_core.testing
from lic_core import ans, coder, container, tables
from lic_core.errors import (IndexOutOfRangeError, InvalidArgumentError,
                             InvalidTableError, LicError, LimitExceededError)
from lic_core.testing import (DAMAGE_OPS, HOSTILE_KINDS, INT32_EXTREMES, CdfTables,
                              assert_decodes_or_refuses, assert_refuses_cleanly, assert_roundtrip,
                              bad_indexes, cdf_tables, coding_cases, damaged, damaged_bytes,
                              gaussian_params, hostile_cdf_tables, image_arrays, images, lic_bytes,
                              lic_files, pil_images, scales, symbols_and_indexes, table_sets)
from lic_core.testing import checks as testing_checks
from lic_core.testing import strategies as testing_strategies

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: `find` proves a strategy can reach a case; no database, so it searches afresh each run.
REACH = settings(max_examples=2000, database=None, suppress_health_check=list(HealthCheck),
                 phases=[Phase.generate])  # stop at the first hit: shrinking it is wasted time


def reaches(strategy, predicate):
    """The strategy draws at least one value satisfying ``predicate``."""
    try:
        find(strategy, predicate, settings=REACH)
    except NoSuchExample:
        return False
    return True


def _run_python(program: str) -> None:
    """Run ``program`` in a fresh interpreter (imports start from nothing) and require success."""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=120, env=_env())
    assert done.returncode == 0, done.stderr[-3000:]


def _env():
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    return env


# ---- importing ---------------------------------------------------------------------

def test_importing_lic_core_testing_imports_neither_hypothesis_nor_torch():
    program = (
        "import sys\n"
        "import lic_core.testing as t\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('hypothesis', 'torch'))\n"
        "assert not loaded, loaded\n"
        "from lic_core import coder\n"
        "ts = coder.TableSet([[0, 10, 60, 64]], [4], [-1], precision=6)\n"
        "t.assert_roundtrip([0, 1, -1, 7], [0, 0, 0, 0], ts)\n"
        "t.assert_refuses_cleanly(coder.decode, b'junk', [0], ts)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('hypothesis', 'torch'))\n"
        "assert not loaded, loaded\n"
        "t.cdf_tables  # a strategy name: Hypothesis now, torch still not\n"
        "assert 'hypothesis' in sys.modules and 'torch' not in sys.modules\n")
    _run_python(program)


def test_without_hypothesis_the_assertions_work_and_strategies_say_what_to_install():
    # Hypothesis made unimportable, as in a codec's runtime environment without it.
    program = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'hypothesis':\n"
        "            raise ImportError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import lic_core.testing as t\n"
        "from lic_core import coder\n"
        "ts = coder.TableSet([[0, 10, 60, 64]], [4], [-1], precision=6)\n"
        "t.assert_roundtrip([0, 1, -1, 7], [0, 0, 0, 0], ts)\n"
        "try:\n"
        "    t.coding_cases\n"
        "except ImportError as exc:\n"
        "    assert 'lic-core[testing]' in str(exc), exc\n"
        "else:\n"
        "    raise SystemExit('a strategy resolved without Hypothesis')\n")
    _run_python(program)


def test_every_public_name_resolves_and_unknown_names_raise_attribute_error():
    for name in lic_core.testing.__all__:
        assert getattr(lic_core.testing, name) is not None
    with pytest.raises(AttributeError):
        lic_core.testing.no_such_strategy  # noqa: B018


@pytest.mark.parametrize("module", [lic_core.testing, testing_checks, testing_strategies])
def test_the_docstring_examples_run(module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Hypothesis' note on .example() outside a prompt
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result


# ---- valid tables and symbols ------------------------------------------------------------

@FAST
@given(cdf_tables())
def test_valid_cdf_tables_bind_and_have_the_documented_layout(t):
    assert t.cdfs.dtype == t.cdf_lengths.dtype == t.offsets.dtype == np.int32
    n, width = t.cdfs.shape
    assert t.cdf_lengths.shape == t.offsets.shape == (n,) and 1 <= n <= 4
    assert (t.cdf_lengths >= 2).all() and int(t.cdf_lengths.max()) <= width
    ts = t.bind()
    assert ts.n_tables == n and ts.precision == t.precision
    if t.precision == 16:  # the CompressAI face takes them too
        ans.RansEncoder().encode_with_indexes([0], [0], *t.ans_args)


@FAST
@given(coding_cases(max_size=200))
def test_coding_cases_round_trip_on_every_face_that_takes_them(case):
    streams = assert_roundtrip(*case)
    assert set(streams) == ({"coder", "ans"} if case[2].precision == 16 else {"coder"})


@FAST
@given(coding_cases(shape=st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(1, 3))))
def test_symbols_of_any_shape_round_trip(case):
    symbols, indexes, ts = case
    assert symbols.ndim == 3 and symbols.shape == indexes.shape
    assert_roundtrip(*case)


def test_the_strategies_reach_their_edge_cases():
    assert reaches(cdf_tables(), lambda t: t.precision == 1)
    assert reaches(cdf_tables(), lambda t: (t.cdf_lengths == 2).any())  # escape-only table
    assert reaches(cdf_tables(), lambda t: (t.offsets == INT32_MIN).any())
    assert reaches(cdf_tables(min_slots=3),
                   lambda t: (t.offsets.astype(np.int64) + t.cdf_lengths - 3 == INT32_MAX).any())
    assert reaches(table_sets(), lambda ts: ts.n_tables == 4)

    def escapes(case):
        symbols, indexes, ts = case
        v = symbols.astype(np.int64) - ts.offsets[indexes]
        return bool(((v < 0) | (v >= ts.cdf_lengths[indexes] - 2)).any())
    assert reaches(coding_cases(max_size=50), escapes)
    assert reaches(coding_cases(max_size=50), lambda c: INT32_MIN in c[0] and INT32_MAX in c[0])


@FAST
@given(coding_cases(escapes=False, max_slots=8))
def test_without_escapes_every_symbol_is_in_its_table_where_the_table_has_values(case):
    symbols, indexes, ts = case
    v = symbols.astype(np.int64) - ts.offsets[indexes]
    has_values = ts.cdf_lengths[indexes] > 2  # an escape-only table has none
    assert ((v >= 0) & (v < ts.cdf_lengths[indexes] - 2))[has_values].all()


def test_symbols_for_a_table_set_are_drawn_for_its_tables():
    ts = coder.TableSet([[0, 10, 60, 64], [0, 64, 0, 0]], [4, 2], [-1, 5], precision=6)
    case = find(symbols_and_indexes(ts), lambda c: c[0].size >= 50, settings=REACH)
    assert (case[1] >= 0).all() and (case[1] < 2).all()
    assert_roundtrip(case[0], case[1], ts)
    # a strategy of tables works as well as tables
    s, i = find(symbols_and_indexes(cdf_tables(max_tables=1)), lambda c: c[0].size > 0, settings=REACH)
    assert (i == 0).all()


@FAST
@given(st.integers(1, 10).flatmap(lambda n: st.tuples(st.just(n), bad_indexes(n))))
def test_bad_indexes_are_refused_by_both_faces(case):
    n, idx = case
    cdfs = np.tile(np.array([[0, 30000, 65536]], np.int32), (n, 1))
    symbols = np.zeros(idx.shape, np.int32)
    assert_refuses_cleanly(coder.encode, symbols, idx, cdfs, expected=IndexOutOfRangeError)
    good = coder.encode(symbols, np.zeros_like(symbols), cdfs)
    assert_refuses_cleanly(coder.decode, good, idx, cdfs, expected=IndexOutOfRangeError)
    assert_refuses_cleanly(ans.RansEncoder().encode_with_indexes, symbols, idx, cdfs,
                           [3] * n, [0] * n, expected=IndexOutOfRangeError)


# ---- hostile tables --------------------------------------------------------------------

@pytest.mark.parametrize("kind", HOSTILE_KINDS)
def test_each_hostile_kind_is_refused_by_the_native_coder_at_once(kind):
    @settings(max_examples=25, deadline=None, database=None)
    @given(hostile_cdf_tables(kinds=[kind]))
    def check(bad):
        raw = (bad.cdfs, bad.cdf_lengths, bad.offsets)
        # "At once": a refusal reads the tables, nothing proportional to a claimed size.
        for call in (bad.bind, lambda: coder.encode([0], [0], *raw, precision=bad.precision)):
            assert_refuses_cleanly(call, timeout=2.0,
                                   expected=(InvalidTableError, InvalidArgumentError, LimitExceededError))
        # A decoder may read the (here empty) stream before the tables: any LicError.
        assert_refuses_cleanly(coder.StreamDecoder, b"", *raw, precision=bad.precision, timeout=2.0)
    check()


#: Defects lic_core.ans cannot see (docs/compat.md): it has no precision argument, reads
#: only cdf_lengths[t] entries of a row, and checks decoded values instead of offsets.
_ANS_BLIND = {"bad_precision", "huge", "offset_overflow"}


@pytest.mark.parametrize("kind", sorted(set(HOSTILE_KINDS) - _ANS_BLIND))
def test_hostile_kinds_at_precision_16_are_refused_by_the_ans_face(kind):
    @settings(max_examples=25, deadline=None, database=None)
    @given(hostile_cdf_tables(kinds=[kind], precision=16))
    def check(bad):
        if (kind == "wrong_total" and bad.precision != 16) or (
                kind == "out_of_int32" and _junk_only_in_padding(bad)):
            return  # a precision ans never sees / an entry it never reads
        assert_refuses_cleanly(ans.RansEncoder().encode_with_indexes, [0], [0], *bad.ans_args)
    check()


def _junk_only_in_padding(bad):
    """An out_of_int32 defect that sits past cdf_lengths[t] in its row (ans ignores it)."""
    cdfs, lengths = np.asarray(bad.cdfs, np.int64), np.asarray(bad.cdf_lengths, np.int64)
    outside = lambda a: bool(((a < INT32_MIN) | (a > INT32_MAX)).any())  # noqa: E731
    if outside(lengths) or outside(np.asarray(bad.offsets, np.int64)):
        return False
    rows, cols = np.nonzero((cdfs < INT32_MIN) | (cdfs > INT32_MAX))
    return rows.size > 0 and bool((cols >= lengths[rows]).all())


# ---- Gaussian parameters -----------------------------------------------------------------

@FAST
@given(gaussian_params())
def test_gaussian_params_are_accepted_by_scale_indexes(params):
    s, m = params
    assert s.shape == m.shape and s.dtype == m.dtype == np.float32
    assert np.isfinite(s).all() and (s >= 0).all() and np.isfinite(m).all()
    idx = tables.scale_indexes(s, tables.scale_table())
    assert idx.shape == s.shape and ((idx >= 0) & (idx < 64)).all()


def test_scales_reach_both_ends_of_the_table_and_the_float32_neighbours_of_its_edges():
    table = tables.scale_table()
    below_first = float(np.nextafter(table[0], np.float32(0)))
    above_last = float(np.nextafter(table[-1], np.float32(np.inf)))
    assert reaches(scales(8), lambda s: (s == table[0]).any())
    assert reaches(scales(8), lambda s: (s == below_first).any())
    assert reaches(scales(8), lambda s: (s == above_last).any())
    assert reaches(scales(8), lambda s: (s == 0).any())
    assert reaches(scales(8, allow_infinity=True), lambda s: np.isinf(s).any())
    idx = lambda s: tables.scale_indexes(s, table)  # noqa: E731
    assert reaches(scales(8), lambda s: (idx(s) == 0).any() and (idx(s) == 63).any())


# ---- images ---------------------------------------------------------------------------

@FAST
@given(images())
def test_every_drawn_image_is_one_compress_accepts(img):
    from lic_core.images import to_rgb_array
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # alpha composited on white, with a warning
        rgb = to_rgb_array(img)
    size = img.shape[:2] if isinstance(img, np.ndarray) else img.size[::-1]
    assert rgb.dtype == np.uint8 and rgb.shape == (*size, 3)


def test_images_reach_every_layout_mode_and_the_thinnest_sizes():
    assert reaches(image_arrays(), lambda a: a.ndim == 2)
    for c in (1, 2, 3, 4):
        assert reaches(image_arrays(), lambda a: a.ndim == 3 and a.shape[2] == c)
    assert reaches(image_arrays(), lambda a: a.shape[:2] == (1, 1))
    assert reaches(image_arrays(), lambda a: a.shape[0] == 1 and a.shape[1] > 1)
    assert reaches(image_arrays(), lambda a: a.flags.f_contiguous and not a.flags.c_contiguous)
    assert reaches(image_arrays(), lambda a: any(s < 0 for s in a.strides))
    pytest.importorskip("PIL")
    for mode in ("L", "RGB", "RGBA", "P", "LA"):
        assert reaches(pil_images(modes=[mode]), lambda img: img.mode == mode)
    assert reaches(pil_images(modes=["P"]), lambda img: "transparency" in img.info)


# ---- .lic files and damage -----------------------------------------------------------------

@FAST
@given(lic_files())
def test_lic_files_pack_and_read_back(f):
    assert container.unpack(container.pack(f)) == f


def test_lic_files_reach_every_family_and_both_versions():
    for model in container.MODEL_IDS:
        assert reaches(lic_files(), lambda f: f.model == model)
    assert reaches(lic_files(), lambda f: f.version == 1)
    assert reaches(lic_files(), lambda f: len(f.latent_shapes) == container.MAX_GROUPS)
    assert reaches(lic_bytes(models=["joint"]), lambda b: container.unpack(b).weights_fingerprint > 0)


def test_lic_files_reach_both_probability_paths_in_version_3():
    assert reaches(lic_files(), lambda f: f.version == 3 and f.probability_path == container.EXACT_PATH)
    assert reaches(lic_files(), lambda f: f.version == 3 and f.probability_path == container.FLOAT_PATH)
    assert reaches(lic_files(versions=[3]), lambda f: f.probability_path == container.EXACT_PATH)
    # packed and read back, the exact path survives (the byte is in the header)
    assert reaches(lic_bytes(), lambda b: container.unpack(b).probability_path == container.EXACT_PATH)


@settings(max_examples=40, deadline=None, database=None)
@given(lic_files(versions=[1, 2], max_side=16))
def test_lic_files_before_version_3_keep_the_float_path(f):
    assert f.probability_path == container.FLOAT_PATH  # no probability path byte to draw


@FAST
@given(st.binary(max_size=40), st.data())
def test_damage_always_changes_the_bytes(data, draw_data):
    assert damaged(data, draw_data.draw) != data


def test_every_damage_operation_is_reachable():
    base = bytes(range(40))
    for op in DAMAGE_OPS:
        expect = {"flip": lambda b: len(b) == 40 and sum(x != y for x, y in zip(b, base)) == 1,
                  "truncate": lambda b: len(b) < 40 and base.startswith(b),
                  "insert": lambda b: len(b) > 40,
                  "delete": lambda b: len(b) < 40 and not base.startswith(b),
                  "overwrite": lambda b: len(b) == 40 and 0xFF in b[1:],
                  "splice": lambda b: b != base}[op]
        assert reaches(damaged_bytes(base, ops=[op], max_ops=1), expect), op


#: What overwrite writes without its random form: these bytes, and 32-bit boundary values
#: (whose bytes are all among them).
_BOUNDARY = set(testing_strategies._BOUNDARY_BYTES)
assert all(set(v.to_bytes(4, "little")) <= _BOUNDARY for v in testing_strategies._BOUNDARY_U32)


def _changed(b, base):
    return [k for k, (x, y) in enumerate(zip(b, base)) if x != y]


def test_overwrite_reaches_random_values_and_runs_of_up_to_8_bytes():
    base = bytes(40)
    over = damaged_bytes(base, ops=["overwrite"], max_ops=1)
    span = lambda b: _changed(b, base)[-1] - _changed(b, base)[0] + 1  # noqa: E731
    # a value no boundary form writes (a random byte)
    assert reaches(over, lambda b: any(x not in _BOUNDARY for x in b))
    # two or more random bytes in one overwrite
    assert reaches(over, lambda b: sum(x not in _BOUNDARY for x in b) >= 2)
    # a run longer than a 32-bit boundary value, up to the full 8 bytes
    assert reaches(over, lambda b: span(b) > 4)
    assert reaches(over, lambda b: span(b) == 8)
    # a random write at the very end, clipped there (the length never changes)
    assert reaches(over, lambda b: len(b) == 40 and b[-1] not in _BOUNDARY)


@settings(max_examples=150, deadline=None, database=None)
@given(st.binary(min_size=1, max_size=40), st.data())
def test_overwrite_keeps_the_length_and_changes_at_most_8_adjacent_bytes(base, data):
    out = damaged(base, data.draw, ops=["overwrite"], max_ops=1)
    changed = _changed(out, base)
    assert len(out) == len(base) and changed and changed[-1] - changed[0] < 8


def test_splice_takes_tails_from_other():
    donor = b"\xAA" * 8
    assert reaches(damaged_bytes(b"\x00" * 8, ops=["splice"], other=[donor]),
                   lambda b: b.endswith(b"\xAA") and b.startswith(b"\x00"))


@FAST
@given(damaged_bytes(lic_bytes()))
def test_damaged_lic_files_are_refused_by_the_container(data):
    # Length changes break the stream-length sum, a size past the pixel limit is refused
    # before anything is allocated, a new version or model id is unsupported; the two
    # CRC-32s catch the rest.
    assert_refuses_cleanly(container.unpack, data)


def _escaped(symbols, indexes, ts):
    v = symbols.astype(np.int64) - ts.offsets[indexes]
    return (v < 0) | (v >= ts.cdf_lengths[indexes] - 2)


def _silent_changes_are_explained(ts, symbols, out, indexes):
    """What a bare native stream can decode without noticing (docs/stream-format.md §5):
    an escape read as another escape (raw bits), or a move between two non-escape slots
    of equal width (the next state is the one the encoder left)."""
    def widths(s):
        escape = ts.cdf_lengths[indexes] - 2
        v = s.astype(np.int64) - ts.offsets[indexes]
        slot = np.where((v >= 0) & (v < escape), v, escape)
        return ts.cdfs[indexes, slot + 1] - ts.cdfs[indexes, slot]
    esc_in, esc_out = _escaped(symbols, indexes, ts), _escaped(out, indexes, ts)
    same_width = widths(symbols) == widths(out)
    return ((esc_in & esc_out) | (~esc_in & ~esc_out & same_width))[out != symbols].all()


@FAST
@given(coding_cases(precision=16, max_size=150), st.data())
def test_damaged_streams_are_refused_or_decode_without_crash(case, data):
    symbols, indexes, ts = case
    streams = assert_roundtrip(*case)
    out = assert_decodes_or_refuses(coder.decode, damaged(streams["coder"], data.draw), indexes, ts)
    if not out.refused:
        assert _silent_changes_are_explained(ts, symbols, out.result, indexes)
    # The CompressAI format has no header or end-state check: a result or a LicError.
    out = assert_decodes_or_refuses(ans.RansDecoder().decode_with_indexes_np,
                                    damaged(streams["ans"], data.draw), indexes, *ts_args(ts))
    if not out.refused:
        assert out.result.shape == indexes.shape


def ts_args(ts):
    return ts.cdfs, ts.cdf_lengths, ts.offsets


def test_model_files_decode_and_survive_damage_to_their_streams():
    pytest.importorskip("torch")
    from lic_core.testing import model_files

    @settings(max_examples=10, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(model_files(max_side=20), st.data())
    def check(f, data):
        out = lic_core.decompress(f.data, model=f.model)
        assert out.shape == f.image.shape and out.dtype == np.uint8
        # Damage one stream and re-pack (CRCs recomputed) so that it reaches the model.
        lf = container.unpack(f.data)
        k = data.draw(st.integers(0, len(lf.streams) - 1))
        streams = list(lf.streams)
        streams[k] = damaged(streams[k], data.draw)
        bad = container.pack(dataclasses.replace(lf, streams=tuple(streams)))
        result = assert_decodes_or_refuses(lic_core.decompress, bad, model=f.model)
        if not result.refused:
            assert result.result.shape == f.image.shape
    check()


# ---- the assertions catch what they claim to -----------------------------------------------

TINY = coder.TableSet([[0, 10, 60, 64]], [4], [-1], precision=6)


def test_assert_refuses_cleanly_fails_on_a_return_a_foreign_exception_a_hang_or_silence():
    def returns(*a):
        return b"ok"

    def value_error(*a):
        raise ValueError("not a LicError")

    def silent(*a):
        raise LicError("")

    def hangs(*a):
        time.sleep(1.0)
        raise LicError("too late")

    with pytest.raises(AssertionError, match="accepted the input"):
        assert_refuses_cleanly(returns, b"")
    with pytest.raises(AssertionError, match="raised ValueError"):
        assert_refuses_cleanly(value_error)
    with pytest.raises(AssertionError, match="empty message"):
        assert_refuses_cleanly(silent)
    start = time.perf_counter()
    with pytest.raises(AssertionError, match="did not return within"):
        assert_refuses_cleanly(hangs, timeout=0.1)
    assert time.perf_counter() - start < 0.9
    with pytest.raises(AssertionError, match="expected IndexOutOfRangeError"):
        assert_refuses_cleanly(coder.decode, b"junk", [0], TINY, expected=IndexOutOfRangeError)
    with pytest.raises(InvalidArgumentError):
        assert_refuses_cleanly(coder.decode, b"junk", [0], TINY, expected=ValueError)
    err = assert_refuses_cleanly(coder.decode, data=b"junk", indexes=[0], cdfs=TINY)
    assert isinstance(err, LicError)


def test_assert_decodes_or_refuses_passes_results_and_lic_errors_only():
    good = coder.encode([0, 1], [0, 0], TINY)
    ok = assert_decodes_or_refuses(coder.decode, good, [0, 0], TINY)
    assert not ok.refused and ok.result.tolist() == [0, 1]
    bad = assert_decodes_or_refuses(coder.decode, good[:-1], [0, 0], TINY)
    assert bad.refused and isinstance(bad.error, LicError)
    with pytest.raises(AssertionError, match="raised KeyError"):
        assert_decodes_or_refuses(lambda: {}["x"])


def test_assert_roundtrip_catches_a_face_that_loses_symbols(monkeypatch):
    assert set(assert_roundtrip([0, 5, -9], [0, 0, 0], TINY)) == {"coder"}
    real = coder.decode
    monkeypatch.setattr(coder, "decode", lambda *a, **k: real(*a, **k) + (np.arange(3) == 2))
    with pytest.raises(AssertionError, match="coder.decode did not round-trip.*symbol 2"):
        assert_roundtrip([0, 5, -9], [0, 0, 0], TINY)


def test_assert_roundtrip_takes_every_table_form_and_checks_faces():
    arrays = tables.gaussian_tables(tables.scale_table())
    for form in (arrays, CdfTables(*arrays, 16), coder.TableSet(*arrays)):
        assert set(assert_roundtrip([INT32_MIN, 0, INT32_MAX], [0, 5, 63], form)) == {"coder", "ans"}
    assert set(assert_roundtrip(np.array(INT32_EXTREMES), np.zeros(7, np.int32), arrays,
                                faces=["ans"])) == {"ans"}
    with pytest.raises(InvalidArgumentError, match="precision 16 only"):
        assert_roundtrip([0], [0], TINY, faces=["ans"])
    with pytest.raises(InvalidArgumentError, match="faces"):
        assert_roundtrip([0], [0], TINY, faces=["jpeg"])


#: lic_core.ans takes these, the native coder does not: table 0's values run 2**31 - 2,
#: 2**31 - 1, then 2**31 (past INT32_MAX) before the escape.
_ANS_ONLY = CdfTables(np.array([[0, 16000, 32000, 48000, 65536], [0, 30000, 65536, 0, 0]], np.int32),
                      np.array([5, 3], np.int32), np.array([INT32_MAX - 1, -5], np.int32), 16)


def test_assert_roundtrip_with_the_ans_face_alone_skips_the_native_coders_validation():
    assert_refuses_cleanly(_ANS_ONLY.bind, expected=InvalidTableError)
    symbols = [INT32_MAX - 1, INT32_MAX, INT32_MIN, 0, -5, 7, INT32_MAX]
    indexes = [0, 0, 0, 1, 1, 1, 0]
    for form in (_ANS_ONLY, _ANS_ONLY.ans_args, tuple(_ANS_ONLY)):
        assert set(assert_roundtrip(symbols, indexes, form, faces=["ans"])) == {"ans"}
    # every face (the default, or naming "coder") binds them, and the coder refuses
    for faces in (None, ["coder", "ans"]):
        with pytest.raises(InvalidTableError):
            assert_roundtrip(symbols, indexes, _ANS_ONLY, faces=faces)


@settings(max_examples=25, deadline=None, database=None)
@given(hostile_cdf_tables(kinds=["offset_overflow"], precision=16))
def test_offset_overflow_tables_round_trip_through_the_ans_face_alone(bad):
    assert_refuses_cleanly(bad.bind)
    n = len(bad.offsets)
    indexes = np.repeat(np.arange(n, dtype=np.int32), 3)
    off = bad.offsets.astype(np.int64)
    # each table's offset, its last value still in int32 (or the offset), and an escape
    last = np.minimum(off + bad.cdf_lengths - 3, INT32_MAX)
    symbols = np.stack([off, last, np.full(n, INT32_MIN)], axis=1).reshape(-1).astype(np.int32)
    assert set(assert_roundtrip(symbols, indexes, bad, faces=["ans"])) == {"ans"}


def _widened(cls, method):
    """``cls`` with ``method`` returning its symbols as int64 (the values unchanged)."""
    def wrong_dtype(self, *a, **k):
        return np.asarray(getattr(super(sub, self), method)(*a, **k)).astype(np.int64)
    sub = type(f"Int64{cls.__name__}", (cls,), {method: wrong_dtype})
    return sub


@pytest.mark.parametrize("module, name, method, face", [
    (coder, "decode", None, "coder.decode"),
    (coder, "StreamDecoder", "decode", "coder.StreamDecoder"),
    (ans, "RansDecoder", "decode_with_indexes_np", "ans.RansDecoder"),
    (ans, "RansDecoder", "decode_stream_np", "ans.RansDecoder.decode_stream"),
])
def test_assert_roundtrip_fails_when_a_decoder_returns_the_right_values_as_another_dtype(
        monkeypatch, module, name, method, face):
    arrays = tables.gaussian_tables(tables.scale_table())
    symbols, indexes = [INT32_MIN, 0, 3, INT32_MAX], [0, 5, 20, 63]
    assert_roundtrip(symbols, indexes, arrays)  # as built: every face returns int32
    real = getattr(module, name)
    if method is None:
        monkeypatch.setattr(module, name, lambda *a, **k: real(*a, **k).astype(np.int64))
    else:
        monkeypatch.setattr(module, name, _widened(real, method))
    with pytest.raises(AssertionError, match=f"{re.escape(face)} returned int64 symbols, expected int32"):
        assert_roundtrip(symbols, indexes, arrays)
    if module is ans:  # and with the ans face alone, unbound tables too
        with pytest.raises(AssertionError, match="returned int64 symbols"):
            assert_roundtrip(symbols, indexes, CdfTables(*arrays, 16), faces=["ans"])


def test_assert_roundtrip_fails_when_an_ans_decoder_returns_a_list(monkeypatch):
    # CompressAI's own decode_with_indexes returns a list; the _np methods must not.
    class ListDecoder(ans.RansDecoder):
        def decode_with_indexes_np(self, *a, **k):
            return super().decode_with_indexes_np(*a, **k).tolist()
    monkeypatch.setattr(ans, "RansDecoder", ListDecoder)
    arrays = tables.gaussian_tables(tables.scale_table())
    with pytest.raises(AssertionError, match="ans.RansDecoder returned int64 symbols"):
        assert_roundtrip([1, -1, 0], [0, 1, 2], arrays, faces=["ans"])
