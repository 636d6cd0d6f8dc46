"""A table of bad input for the command line: malformed files, damaged model directories, bad
parameters and arguments. Every case must end with exit code 2 and a message that names the
file, line, field or parameter, never a traceback, and must leave every input file as it was
(bytes and modification time) and write no output."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tailwise.cli.main import main

#: name -> (build the command line from an `Env` of tests/cli/conftest.py, texts the message
#: must contain); the builder may write files (they count as inputs too)
CASES: dict[str, tuple[Callable[..., list[str]], tuple[str, ...]]] = {}


def case(*expect: str) -> Callable:
    """Register a table row: a builder of the command line and what its message must say."""

    def register(build: Callable[..., list[str]]) -> Callable:
        CASES[build.__name__] = (build, expect)
        return build

    return register


# ---------------------------------------------------------------------------- model parameters
@case("ease parameter 'l2'", "not 'abc'")
def param_not_a_number(env):
    return env.fit("ease", "--param", "l2=abc")


@case("ease parameter 'l2'", "finite number in (0, 1e+12]", "not inf")
def param_infinite(env):
    return env.fit("ease", "--param", "l2=inf")


@case("ease parameter 'l2'", "not 1e+308")
def param_too_large(env):
    return env.fit("ease", "--param", "l2=1e308")


@case("hybrid parameter 'alpha'", "in [0, 1]", "not nan")
def param_nan(env):
    return env.fit("hybrid", "--param", "alpha=nan")


@case("hybrid parameter 'alpha'", "in [0, 1]", "not 2")
def param_above_range(env):
    return env.fit("hybrid", "--param", "alpha=2")


@case("hybrid parameter 'alpha'", "not -1")
def param_below_range(env):
    return env.fit("hybrid", "--param", "alpha=-1")


@case("hybrid parameter 'evidence'", "in (0, 1e+12]", "not -10")
def param_negative_evidence(env):
    return env.fit("hybrid", "--param", "evidence=-10")


@case("hybrid parameter 'tail_share'", "not 2")
def param_tail_share(env):
    return env.fit("hybrid", "--param", "tail_share=2")


@case("adapter parameter 'factors'", "an integer in [1, 16384]", "not 0")
def param_zero_factors(env):
    return env.fit("adapter", "--param", "factors=0")


@case("itemknn parameter 'neighbours'", "an integer", "not 2.5")
def param_not_an_integer(env):
    return env.fit("itemknn", "--param", "neighbours=2.5")


@case("content parameter 'profile'", "one of 'mean', 'max'", "not 'median'")
def param_not_a_choice(env):
    return env.fit("content", "--param", "profile=median")


@case("adapter parameter 'tfidf'", "true or false", "not 'maybe'")
def param_not_a_flag(env):
    return env.fit("adapter", "--param", "tfidf=maybe")


@case("has no parameter 'nonsense'", "its parameters are: l2")
def param_unknown(env):
    return env.fit("ease", "--param", "nonsense=1")


@case("--param must look like key=value")
def param_without_value(env):
    return env.fit("ease", "--param", "l2")


# ---------------------------------------------------------------------------- data files
@case("badts.csv, line 5, field 'timestamp'", "'notatime'")
def bad_timestamp_names_its_own_line(env):
    env.write("badts.csv", "user_id,item_id,timestamp\nu1,i1,10\nu1,i2,11\nu2,i1,12\nu2,i3,notatime\n")
    return env.fit("popular", data=["--interactions", str(env.root / "badts.csv")])


@case("baddate.csv, line 4, field 'timestamp'", "'xx'")
def bad_date_names_its_own_line(env):
    env.write("baddate.csv", "user_id,item_id,timestamp\nu1,i1,2020-01-01\nu1,i2,2020-01-02\nu2,i1,xx\n")
    return env.fit("popular", data=["--interactions", str(env.root / "baddate.csv")])


@case("huge.csv, line 3, field 'rating'", "'1e308' is out of range")
def rating_overflows_float32(env):
    env.write("huge.csv", "user_id,item_id,rating\nu1,i1,4\nu1,i2,1e308\n")
    return env.fit("popular", data=["--interactions", str(env.root / "huge.csv")])


@case("four.csv, line 3, field 'rating'", "'four'")
def rating_not_a_number(env):
    env.write("four.csv", "user_id,item_id,rating\nu1,i1,4\nu1,i2,four\n")
    return env.fit("popular", data=["--interactions", str(env.root / "four.csv")])


@case("empty.csv", "file is empty")
def interactions_empty(env):
    env.write("empty.csv", "")
    return env.fit("popular", data=["--interactions", str(env.root / "empty.csv")])


@case("users.txt", "no user ids")
def users_file_empty(env):
    env.write("users.txt", "user_id\n\n")
    return env.recommend(env.model("ease"), "--users", str(env.root / "users.txt"))


# ---------------------------------------------------------------------------- --model-dir
@case("--model-dir is an input", "train.csv")
def model_dir_is_the_interactions_file(env):
    return env.fit("popular", model_dir=env.train)


@case("--model-dir holds the input", "train.csv", "would be lost")
def model_dir_holds_the_input_even_with_force(env):
    return env.fit("popular", "--force", model_dir=env.data)


@case("notes.txt", "--model-dir is a file", "--force")
def model_dir_is_another_file(env):
    env.write("notes.txt", "keep me\n")
    return env.fit("popular", model_dir=env.root / "notes.txt")


@case("photos", "not a tailwise model directory", "--force")
def model_dir_is_a_foreign_directory(env):
    env.write("photos/cat.jpg", "jpeg bytes")
    return env.fit("popular", model_dir=env.root / "photos")


# ---------------------------------------------------------------------------- damaged model directories
def _manifest(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def damage(d: Path) -> None:
        path = d / "manifest.json"
        path.write_text(json.dumps(change(json.loads(path.read_text()))))

    return damage


def _npz(name: str, change: Callable[[dict], dict]) -> Callable[[Path], None]:
    def damage(d: Path) -> None:
        with np.load(d / name) as data:
            arrays = {k: data[k] for k in data.files}
        np.savez(d / name, **change(arrays))

    return damage


def _truncate(name: str) -> Callable[[Path], None]:
    def damage(d: Path) -> None:
        raw = (d / name).read_bytes()
        (d / name).write_bytes(raw[: len(raw) // 2])

    return damage


DAMAGES: dict[str, tuple[str, Callable[[Path], None], tuple[str, ...]]] = {
    "l2_not_a_number": ("ease", _manifest(lambda m: {**m, "params": {"l2": "abc"}}), ("manifest.json, field 'params.l2'", "not 'abc'")),
    "l2_null": ("ease", _manifest(lambda m: {**m, "params": {"l2": None}}), ("field 'params.l2'", "not None")),
    # null is the hybrid's own "chosen in fit"; a word is not a weight
    "alpha_a_word": ("ease", _manifest(lambda m: {**m, "model": "hybrid", "params": {"alpha": "high"}}), ("field 'params.alpha'", "not 'high'")),
    "manifest_is_a_list": ("ease", _manifest(lambda m: [m]), ("manifest.json", "must be a JSON object, not a list")),
    "manifest_without_model": ("ease", _manifest(lambda m: {k: v for k, v in m.items() if k != "model"}), ("manifest.json, field 'model'", "no 'model' field")),
    "manifest_without_params": ("ease", _manifest(lambda m: {k: v for k, v in m.items() if k != "params"}), ("field 'params'", "no 'params' field")),
    "manifest_unknown_model": ("ease", _manifest(lambda m: {**m, "model": "nonesuch"}), ("field 'model'", "unknown model 'nonesuch'")),
    "manifest_not_json": ("ease", lambda d: (d / "manifest.json").write_text("{not json"), ("manifest.json, line 1", "not valid JSON")),
    "manifest_missing": ("ease", lambda d: (d / "manifest.json").unlink(), ("not a tailwise model directory",)),
    "model_npz_truncated": ("ease", _truncate("model.npz"), ("model.npz", "damaged")),
    "history_npz_truncated": ("ease", _truncate("history.npz"), ("history.npz", "damaged")),
    "ids_npz_truncated": ("ease", _truncate("ids.npz"), ("ids.npz", "damaged")),
    "model_npz_garbage": ("ease", lambda d: (d / "model.npz").write_bytes(b"\x00garbage" * 50), ("model.npz", "damaged")),
    "model_npz_missing": ("ease", lambda d: (d / "model.npz").unlink(), ("model.npz", "missing")),
    "items_json_missing": ("ease", lambda d: (d / "items.json").unlink(), ("items.json", "missing")),
    "ids_fewer_users": ("ease", _npz("ids.npz", lambda a: {**a, "users": a["users"][:-3]}), ("history.npz", "ids.npz has")),
    "ids_fewer_items": ("itemknn", _npz("ids.npz", lambda a: {**a, "items": a["items"][:-3]}), ("history.npz", "ids.npz has")),
    "ids_repeated": ("ease", _npz("ids.npz", lambda a: {**a, "users": np.r_[a["users"][:1], a["users"][:-1]]}), ("ids.npz", "more than once")),
    "ids_missing_array": ("ease", _npz("ids.npz", lambda a: {"users": a["users"]}), ("ids.npz", "'items' is missing")),
    "history_index_out_of_range": ("ease", _npz("history.npz", lambda a: {**a, "indices": a["indices"] + 1000}), ("history.npz", "outside")),
    "history_nan": ("ease", _npz("history.npz", lambda a: {**a, "data": a["data"] * np.nan}), ("history.npz", "NaN")),
    # EASE's weights are stored packed (models/ease_weights.py): one triangle plus the other's last bits
    "weights_nan": ("ease", _npz("model.npz", lambda a: {**a, "weights_upper_": a["weights_upper_"] * np.nan}), ("model.npz", "'weights_'", "NaN")),
    "weights_wrong_shape": ("ease", _npz("model.npz", lambda a: {**a, "weights_upper_": a["weights_upper_"][:-1]}), ("model.npz", "'weights_upper_' holds", "should hold")),
    "weights_missing": ("ease", _npz("model.npz", lambda a: {k: v for k, v in a.items() if k != "weights_upper_"}), ("model.npz", "'weights_upper_' is missing")),
    "weights_dense_missing": ("ease", _npz("model.npz", lambda a: {k: v for k, v in a.items() if k not in ("weights_upper_", "weights_lower_ulps_", "inverse_diag_")}), ("model.npz", "'weights_' is missing")),
    "active_out_of_range": ("ease", _npz("model.npz", lambda a: {**a, "active_": a["active_"] + 10_000}), ("model.npz", "'active_'", "outside")),
    "n_items_mismatch": ("popular", _npz("model.npz", lambda a: {**a, "n_items_": np.asarray(7), "item_counts_": a["item_counts_"][:7]}), ("model.npz", "ids.npz has")),
    "knn_pointer_broken": ("itemknn", _npz("model.npz", lambda a: {**a, "sim_indptr_": a["sim_indptr_"][::-1]}), ("model.npz", "'sim_indptr_'")),
    "items_json_short": ("ease", lambda d: (d / "items.json").write_text(json.dumps(json.loads((d / "items.json").read_text())[:-5])), ("items.json", "item texts, but ids.npz has")),
    "items_json_not_a_list": ("ease", lambda d: (d / "items.json").write_text('{"a": 1}'), ("items.json", "JSON list")),
}


def _damaged_case(label: str, model: str, damage: Callable[[Path], None]) -> Callable[..., list[str]]:
    def build(env) -> list[str]:
        d = env.root / f"damaged-{label}"
        shutil.copytree(env.model(model), d)
        damage(d)
        return env.recommend(d, "--users", str(env.users))

    build.__name__ = f"damaged_{label}"
    return build


for _label, (_model, _damage, _expect) in DAMAGES.items():
    case(*_expect)(_damaged_case(_label, _model, _damage))


# ---------------------------------------------------------------------------- recommend arguments
@case("--k must be between 1 and 1,000,000", "not 1,000,000,000")
def k_absurd(env):
    return env.recommend(env.model("ease"), "--users", str(env.users), "--k", "1000000000")


@case("--k must be between", "not 0")
def k_zero(env):
    return env.recommend(env.model("ease"), "--users", str(env.users), "--k", "0")


@case("--history names no item ids")
def history_empty(env):
    return env.recommend(env.model("ease"), "--history", " , ")


@case("--history names items the model does not know: 'no-such-item'")
def history_unknown_item(env):
    return env.recommend(env.model("ease"), "--history", "i1,no-such-item")


@case("--query is empty")
def query_empty(env):
    return env.recommend(env.model("ease"), "--query", "   ")


@case("--output is an input", "users.txt")
def output_is_the_users_file(env):
    return env.recommend(env.model("ease"), "--users", str(env.users), output=env.users)


@case("--output is a file of the input", "manifest.json")
def output_inside_the_model_dir(env):
    model = env.model("ease")
    return env.recommend(model, "--users", str(env.users), output=model / "manifest.json")


@case("cands.txt", "none of the candidate items is known")
def candidates_all_unknown(env):
    env.write("cands.txt", "x1\nx2\n")
    return env.recommend(env.model("ease"), "--users", str(env.users), "--candidates", str(env.root / "cands.txt"))


# ---------------------------------------------------------------------------- the test
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_a_located_message(name, cli_env, tmp_path, capsys):
    env = cli_env.fork(tmp_path / "case")
    build, expect = CASES[name]
    argv = build(env)
    before = env.snapshot()
    capsys.readouterr()
    code = main(argv)
    err = " ".join(capsys.readouterr().err.split())  # the console wraps long lines
    assert code == 2, f"exit code {code}: {err}"
    assert "Traceback" not in err
    for text in expect:
        assert text in err, f"{text!r} not in {err!r}"
    assert env.snapshot() == before, "an input file was touched"
    assert not env.output.exists(), "nothing may be written when the command fails"
    assert not (tmp_path / "case" / "new-model").exists()
    assert not [p for p in (*env.data.rglob(".*"), *tmp_path.rglob(".*")) if ".old-" in p.name or p.name.endswith(".tmp")]
