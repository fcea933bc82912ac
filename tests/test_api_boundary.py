"""The API boundary: argument kinds, config values, shared normalizers, reprs, output files."""

import colorsys
import json

import numpy as np
import pytest
from PIL import Image

import sketchgrad as sg
from sketchgrad import cli
from sketchgrad.config import load_config_file, provenance_text, read_provenance
from sketchgrad.errors import ParameterError
from sketchgrad.normalize import Normalizer


def drawing(shape=(40, 56), seed=4):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    ink = np.exp(-((x - 0.6 * y - 10) / 1.5) ** 2) + np.exp(-((y - 25) / 1.2) ** 2)
    return np.clip(0.9 - 0.7 * ink + rng.normal(0, 0.01, shape), 0, 1).astype(np.float32)


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im)


# --------------------------------------------------------------------------- argument kinds

def test_wrong_kinds_of_argument_name_the_parameter(tmp_path):
    image = drawing()
    with pytest.raises(ParameterError, match="field is a ndarray, not a GradientField; give "
                                             r"gradient_field\(image\)"):
        sg.hsv_remap(image)
    with pytest.raises(ParameterError, match=r"result is a ndarray, not a Result; .*process"):
        sg.render_preview(image, tmp_path / "p.png")
    with pytest.raises(ParameterError, match="result is a ndarray"):
        sg.preview_png_bytes(image)
    with pytest.raises(ParameterError, match="config is a dict, not a PipelineConfig"):
        sg.process(image, {"denoise": "none"})
    with pytest.raises(ParameterError, match="normalizer is a str, not a Normalizer"):
        sg.process(image, normalizer="robust")
    assert not (tmp_path / "p.png").exists()


# --------------------------------------------------------------------------- PipelineConfig

def test_outputs_given_as_one_name():
    cfg = sg.PipelineConfig(outputs="hsv")
    assert cfg.outputs == ("hsv",)
    res = sg.process(drawing(), cfg)
    assert res.hsv is not None and res.sketch is None
    with pytest.raises(ParameterError, match=r"outputs=\['colour'\]"):
        sg.PipelineConfig(outputs="colour")


def test_color_accepts_ramp_objects_and_colormaps():
    from matplotlib import colormaps

    image = drawing()
    by_name = sg.process(image, sg.PipelineConfig(color="viridis", outputs="hsv"))
    by_object = sg.process(image, sg.PipelineConfig(color=colormaps["viridis"], outputs="hsv"))
    np.testing.assert_allclose(by_object.hsv, by_name.hsv, atol=1e-6)
    ramp = sg.ColorRamp(["#000000", "#ff8000"], space="rgb")
    res = sg.process(image, sg.PipelineConfig(color=ramp, outputs="hsv"))
    # the ramp of the normalized magnitude: (v, v/2, 0) to the table's resolution
    v = res.normalized
    np.testing.assert_allclose(res.hsv[..., 0], v, atol=1 / 4096)
    np.testing.assert_allclose(res.hsv[..., 1], v * 128 / 255, atol=1 / 4096)
    assert "color='ramp'" in repr(res)
    with pytest.raises(ParameterError, match="color of type int is not a colouring"):
        sg.PipelineConfig(color=3)
    with pytest.raises(ParameterError, match="color='nosuch' is not 'hsv', .*a named ramp"):
        sg.PipelineConfig(color="nosuch")


def test_named_ramps_by_name():
    sepia = sg.ColorRamp("sepia")
    assert sepia == sg.RAMPS["sepia"] and sepia.space == "oklab"
    np.testing.assert_array_equal(sepia.lut, sg.RAMPS["sepia"].lut)
    assert sg.ColorRamp("sepia", space="rgb").space == "rgb"  # a space given wins
    assert sg.ColorRamp("viridis") != sepia                   # colormap names still work


def test_ramp_config_round_trips_through_json_toml_and_provenance(tmp_path):
    ramp = sg.ColorRamp(["#1b1b3a", "white", (0.9, 0.2, 0.1)], space="oklch",
                        positions=[0, 0.3, 1], uniform=True)
    cfg = sg.PipelineConfig(color=ramp, color_target="tone", axial=True, outputs=("hsv",))
    back = sg.PipelineConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and back.color == ramp
    np.testing.assert_array_equal(back.color.lut, ramp.lut)
    # TOML: the ramp as an inline table of its stops and space
    stops = ", ".join(f"[{', '.join(repr(v) for v in c)}]" for c in ramp.stops)
    toml = tmp_path / "run.toml"
    toml.write_text(f"axial = true\ncolor = {{stops = [{stops}], space = \"oklch\", "
                    "positions = [0.0, 0.3, 1.0], uniform = true}\n")
    settings = load_config_file(toml)
    assert sg.PipelineConfig(**settings).color == ramp
    # provenance written by process_to_files (no text given: the command's chunk)
    out = sg.process_to_files(drawing(), cfg, {"hsv": tmp_path / "h.png"})
    record = read_provenance(out["hsv"])
    assert record["config"] == cfg.to_dict()
    assert sg.PipelineConfig.from_dict(record["config"]) == cfg


def test_axial_is_a_setting_and_a_command_option(tmp_path):
    image = drawing()
    res = sg.process(image, sg.PipelineConfig(axial=True, outputs="hsv"))
    want = sg.hsv_remap(res.field, axial=True, strength=res.normalized)
    np.testing.assert_allclose(res.hsv, want, atol=1e-6)
    plain = sg.process(image, sg.PipelineConfig(outputs="hsv"))
    assert np.abs(plain.hsv - res.hsv).max() > 0.5  # opposite sides differ only without it
    src = tmp_path / "in.png"
    Image.fromarray((image * 255).round().astype(np.uint8)).save(src)
    code = cli.main(["run", str(src), "-o", str(tmp_path / "out"), "--axial", "--outputs",
                     "hsv", "--workers", "1", "--quiet"])
    assert code == 0
    record = read_provenance(tmp_path / "out" / "in.hsv.png")
    assert record["config"]["axial"] is True
    with pytest.raises(ParameterError, match="axial='yes' must be True or False"):
        sg.PipelineConfig(axial="yes")


# --------------------------------------------------------------------------- shared normalizer

def test_normalizer_of_another_method_or_unfitted_is_an_error(tmp_path):
    image = drawing()
    cfg = sg.PipelineConfig(normalize="minmax")
    robust = Normalizer("robust").fit(sg.gradient_field(image).magnitude)
    message = "normalizer was fitted with method 'robust' but config.normalize is 'minmax'"
    with pytest.raises(ParameterError, match=message):
        sg.process(image, cfg, normalizer=robust)
    with pytest.raises(ParameterError, match=message):
        sg.process_to_files(image, cfg, {"hsv": tmp_path / "h.png"}, normalizer=robust)
    with pytest.raises(ParameterError, match=message):
        sg.fit_normalizer(image, cfg, normalizer=robust)

    class Scale:  # transforms as a Normalizer does, but keeps no statistics to add to
        method = "minmax"

        def transform(self, x):
            return x

    with pytest.raises(ParameterError, match="normalizer is a Scale; fit_normalizer adds to "
                       r"a sketchgrad Normalizer \(give Normalizer\(config.normalize\)"):
        sg.fit_normalizer(image, cfg, normalizer=Scale())
    with pytest.raises(ParameterError, match="normalizer has never been fitted"):
        sg.process(image, cfg, normalizer=Normalizer("minmax"))
    assert not (tmp_path / "h.png").exists()
    # fitted with the config's method: used, and the Result says what was done
    shared = sg.fit_normalizer(image, sg.PipelineConfig(normalize="robust"))
    res = sg.process(image, sg.PipelineConfig(normalize="robust"), normalizer=shared)
    assert res.config.normalize == shared.method == "robust"


# --------------------------------------------------------------------------- Result display

def test_result_repr_is_short():
    res = sg.process(drawing((300, 400)), sg.PipelineConfig(outputs=("hsv", "sketch")))
    text = repr(res)
    assert len(text) < 300 and "array(" not in text
    assert text.startswith("Result(shape=(300, 400), denoise='gaussian', operator='sobel'")
    assert "outputs=('hsv', 'sketch')" in text and "computed=[" in text


# --------------------------------------------------------------------------- output files

def test_non_png_names_get_their_format_or_a_clear_refusal(tmp_path):
    res = sg.process(drawing())
    jpg = sg.render_preview(res, tmp_path / "p.jpg")
    with Image.open(jpg) as im:
        assert im.format == "JPEG"
    png = pixels(sg.render_preview(res, tmp_path / "p.png")).astype(int)
    assert np.abs(pixels(jpg).astype(int) - png).mean() < 3  # the same sheet, lossy
    with pytest.raises(ParameterError, match="does not write GIF files; name it .png"):
        sg.render_preview(res, tmp_path / "p.gif")
    with pytest.raises(ParameterError, match=r"process_to_files streams hsv as PNG and cannot "
                                             r"write JPEG; name it .png"):
        sg.process_to_files(drawing(), None, {"hsv": tmp_path / "h.jpg"})
    assert not (tmp_path / "h.jpg").exists() and not (tmp_path / "p.gif").exists()
    # the streamed preview is drawn whole: any writable format
    out = sg.process_to_files(drawing(), None, {"preview": tmp_path / "pre.webp"})
    with Image.open(out["preview"]) as im:
        assert im.format == "WEBP"


@pytest.mark.parametrize("name, fmt, bits", [("a.tif", "TIFF", 16), ("a.TIFF", "TIFF", 8),
                                             ("a.webp", "WEBP", 8), ("a.png", "PNG", 16)])
def test_save_png_writes_the_format_its_name_asks_for(tmp_path, name, fmt, bits):
    ramp = np.linspace(0, 1, 7 * 9, dtype=np.float32).reshape(7, 9)
    path = sg.save_png(tmp_path / name, ramp, bit_depth=bits, dpi=(300, 300))
    top = 2 ** bits - 1
    with Image.open(path) as im:
        assert im.format == fmt
        if fmt != "WEBP":
            assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
        got = np.asarray(im).astype(np.int64)
    if got.ndim == 3:
        got = got[..., 0]
    np.testing.assert_array_equal(got, np.floor(ramp * top + 0.5))  # lossless formats
    with pytest.raises(ParameterError, match="JPEG holds 8 bits per sample"):
        sg.save_png(tmp_path / "b.jpg", ramp, bit_depth=16)


def test_api_outputs_carry_provenance_and_the_scans_dpi(tmp_path):
    src = tmp_path / "scan.png"
    Image.fromarray((drawing() * 255).round().astype(np.uint8)).save(src, dpi=(300, 300))
    scan = sg.load_scan(src)
    assert scan.meta.dpi == pytest.approx((300, 300), abs=0.01)
    cfg = sg.PipelineConfig(tile_size=16)
    paths = {k: tmp_path / f"o.{k}.png" for k in ("magnitude", "hsv", "sketch", "preview")}
    out = sg.process_to_files(scan, cfg, paths)
    # the record as the command writes it, with what the scan was processed in (issue 14)
    expected = {**json.loads(provenance_text(cfg)["sketchgrad"]), "channels_used": "gray"}
    # and the denoise strength the run used: the automatic estimate, resolved on the scan
    from sketchgrad.denoise import file_noise_source, resolve_strength

    expected["strength_used"] = resolve_strength(scan.image, cfg.denoise,
                                                 **file_noise_source(scan.meta))
    # and the stroke figures the preview measured (its rose), the scan's own
    strokes = sg.process(scan, sg.PipelineConfig(tile_size=16, outputs=("flow",))).strokes
    expected["strokes"] = strokes.summary()
    for kind in ("magnitude", "hsv", "sketch"):
        with Image.open(out[kind]) as im:
            assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01), kind
        assert read_provenance(out[kind]) == expected, kind
    assert read_provenance(out["preview"]) == expected
    # a shared scale is recorded as the command records it (normalize_scope "batch")
    shared = sg.fit_normalizer(scan, cfg)
    out = sg.process_to_files(scan, cfg, {"hsv": tmp_path / "b.png"}, normalizer=shared)
    record = read_provenance(out["hsv"])
    assert record["normalize_scope"] == "batch"
    assert record["normalizer"]["statistics"]["count"] == 40 * 56
    res = sg.process(scan)
    assert read_provenance(sg.render_preview(res, tmp_path / "p.png"))["config"] == \
        res.config.to_dict()
    sheet = sg.render_comparison(scan, "ramp", tmp_path / "c.png")
    assert read_provenance(sheet)["config"] == sg.PipelineConfig().to_dict()


# --------------------------------------------------------------------------- hsv_to_rgb

def test_hsv_to_rgb_is_called_as_matplotlibs():
    from matplotlib.colors import hsv_to_rgb as mpl

    hsv = np.array([[0.0, 1.0, 1.0], [0.5, 0.5, 0.8], [0.9, 0.2, 0.3]])
    np.testing.assert_allclose(sg.hsv_to_rgb(hsv), mpl(hsv), atol=1e-6)
    np.testing.assert_allclose(sg.hsv_to_rgb(hsv),
                               [colorsys.hsv_to_rgb(*row) for row in hsv], atol=1e-6)
    with pytest.raises(TypeError):
        sg.hsv_to_rgb(0.0, 1.0, 1.0)  # the old three-argument call is gone


# --------------------------------------------------------------------------- messages

def test_library_messages_name_parameters_and_the_command_names_flags(tmp_path, capsys):
    src = tmp_path / "big.png"
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(src)
    with pytest.raises(sg.ScanError) as caught:
        sg.load_scan(src, max_pixels=100)
    assert "max_pixels=" in str(caught.value) and "--" not in str(caught.value)
    code = cli.main(["run", str(src), "-o", str(tmp_path / "out"), "--max-pixels", "100",
                     "--workers", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "more than --max-pixels 100" in err and "raise --max-pixels" in err
    assert "max_pixels" not in err
    assert cli._as_flags("use fewer workers= or a smaller tile_size=; use overwrite=True; "
                         "choose another (outdir=)") == \
        "use fewer --workers or a smaller --tile-size; use --overwrite; choose another (-o)"
