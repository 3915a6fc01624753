"""chain.toolchain.compile: bytecode as forge's, content-keyed cache, imports, solc chosen."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import solcx

from chain.errors import CompilationError
from chain.toolchain import compile as compile_mod
from chain.toolchain.compile import (
    _imports,
    _resolve_import,
    compile_contracts,
    load_config,
    project_root,
    resolve_solc,
)
from chain.toolchain.generate_errors import TARGET, render
from tests.utils.db_fixtures import service_unavailable

ROOT = project_root()
FORGE = ROOT / "node_modules" / ".bin" / "forge"
REMAPS = ("@oz/=node_modules/@openzeppelin/contracts/", "ctx:@x/=lib/x/")


@pytest.fixture(scope="module")
def forge_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`forge build` of contracts/ with the repository's foundry.toml, into a private out dir."""
    if not FORGE.is_file():
        service_unavailable("node_modules/.bin/forge is missing: run `make deps`")
    tmp = tmp_path_factory.mktemp("forge")
    # Only the profile may differ from a plain `forge build`; out/cache go to tmp so that a
    # concurrent forge run in the repository is not disturbed.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_")}
    cmd = [str(FORGE), "build", "--root", str(ROOT), "--out", str(tmp / "out")]
    cmd += ["--cache-path", str(tmp / "cache"), "--skip", "test", "--skip", "script"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp / "out"


def _canon(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True)


def _ranges(refs: Any) -> list[tuple[int, int]]:
    return sorted((r["start"], r["length"]) for group in refs for r in group)


@pytest.mark.parametrize("name", ["TraceAnchor", "ShipmentEscrow"])
def test_bytecode_identical_to_forge(forge_out: Path, name: str) -> None:
    forge = json.loads((forge_out / f"{name}.sol" / f"{name}.json").read_text())
    ours = compile_contracts()[name]
    # Byte for byte, CBOR metadata (and so its IPFS hash of sources + settings) included.
    assert ours.deployed_bytecode.hex() == forge["deployedBytecode"]["object"].removeprefix("0x")
    assert ours.bytecode.hex() == forge["bytecode"]["object"].removeprefix("0x")
    # forge reorders ABI entries; the set of entries must be the same.
    assert sorted(map(_canon, ours.abi)) == sorted(map(_canon, forge["abi"]))
    # Immutable references are keyed by AST ids, which depend on the set of files compiled.
    forge_refs = forge["deployedBytecode"].get("immutableReferences", {}).values()
    assert _ranges(ours.immutable_references.values()) == _ranges(forge_refs)


def _tiny_project(tmp: Path, body: str = "uint256 public x = 1;") -> Path:
    (tmp / "contracts").mkdir(exist_ok=True)
    if not (tmp / "node_modules").exists():
        (tmp / "node_modules").symlink_to(ROOT / "node_modules")
    config = (ROOT / "foundry.toml").read_text().replace('solc = "scripts/solc"', "")
    config = config.replace("[profile.default]", f'[profile.default]\nsolc = "{ROOT}/scripts/solc"')
    (tmp / "foundry.toml").write_text(config)
    src = f"// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\ncontract Tiny {{ {body} }}\n"
    (tmp / "contracts" / "Tiny.sol").write_text(src)
    return tmp


class _CountingSolc:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = solcx.compile_standard

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(compile_mod.solcx, "compile_standard", counting)


def test_second_compile_hits_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tiny_project(tmp_path)
    solc = _CountingSolc(monkeypatch)
    first = compile_contracts(root=root)
    assert solc.calls == 1
    assert list((root / ".chaintrace" / "artifacts").glob("*.json"))
    second = compile_contracts(root=root)
    assert solc.calls == 1, "an unchanged project must not invoke solc"
    assert second == first
    # A changed source is a new cache key.
    _tiny_project(tmp_path, "uint256 public x = 2;")
    third = compile_contracts(root=root)
    assert solc.calls == 2
    assert third["Tiny"].bytecode != first["Tiny"].bytecode


def test_corrupt_cache_file_recompiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tiny_project(tmp_path)
    first = compile_contracts(root=root)
    for file in (root / ".chaintrace" / "artifacts").glob("*.json"):
        file.write_text("{not json")
    solc = _CountingSolc(monkeypatch)
    assert compile_contracts(root=root) == first
    assert solc.calls == 1


def test_compiler_error_is_reported(tmp_path: Path) -> None:
    root = _tiny_project(tmp_path, "function f() public { undefinedThing(); }")
    with pytest.raises(CompilationError, match="undefinedThing"):
        compile_contracts(root=root)


def test_missing_import_is_reported(tmp_path: Path) -> None:
    root = _tiny_project(tmp_path)
    (root / "contracts" / "Bad.sol").write_text('import "./Nowhere.sol";\n')
    with pytest.raises(CompilationError, match=r"Nowhere\.sol"):
        compile_contracts(root=root)


def test_config_comes_from_foundry_toml() -> None:
    config = load_config()
    assert (config.evm_version, config.optimizer, config.optimizer_runs) == ("cancun", True, 200)
    assert config.bytecode_hash == "ipfs"
    assert "@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/" in config.remappings


def test_imports_ignore_comments_and_strings() -> None:
    src = """
    import "./A.sol";
    import {B, C as D} from '../lib/B.sol';
    import * as E from "@oz/E.sol";
    // import "./Commented.sol";
    /* import "./Block.sol"; */
    string constant S = "import \\"./InString.sol\\";";
    """
    assert _imports(src) == ["./A.sol", "../lib/B.sol", "@oz/E.sol"]


@pytest.mark.parametrize(
    ("importer", "path", "unit"),
    [
        ("contracts/X.sol", "./interfaces/I.sol", "contracts/interfaces/I.sol"),
        ("contracts/libraries/L.sol", "../X.sol", "contracts/X.sol"),
        ("contracts/X.sol", "@oz/utils/A.sol", "node_modules/@openzeppelin/contracts/utils/A.sol"),
        ("contracts/X.sol", "@x/Y.sol", "lib/x/Y.sol"),
        ("contracts/X.sol", "contracts/Y.sol", "contracts/Y.sol"),
    ],
)
def test_resolve_import(importer: str, path: str, unit: str) -> None:
    assert _resolve_import(importer, path, REMAPS) == unit


def test_solc_resolution_order(tmp_path: Path) -> None:
    config = load_config()
    shim = (ROOT / "scripts" / "solc").resolve()
    explicit = tmp_path / "my-solc"
    assert resolve_solc(config, override=explicit, environ={}) == explicit.resolve()
    assert resolve_solc(config, environ={"SOLC_BINARY": str(explicit)}) == explicit.resolve()
    # Without an explicit choice: a native solc of the shim's version if one is installed,
    # else foundry.toml's shim.
    natives = {solcx.get_solcx_install_folder() / "solc-v0.8.30"}
    natives |= {Path(p) for p in [shutil.which("solc")] if p}
    found = resolve_solc(config, environ={})
    assert found == shim or (found in natives and found.is_file())
    if not any(n.is_file() for n in natives):
        assert found == shim


def test_solc_binary_from_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = load_config()
    monkeypatch.setenv("SOLC_BINARY", str(tmp_path / "env-solc"))
    assert resolve_solc(config) == (tmp_path / "env-solc").resolve()
    monkeypatch.setenv("SOLC_BINARY", "")  # empty is unset
    assert resolve_solc(config) == resolve_solc(config, environ={})


def test_generated_error_classes_are_current() -> None:
    # Every custom error of the compiled ABIs has a class; regenerate with
    # `python -m chain.toolchain.generate_errors` when this fails.
    assert TARGET.read_text(encoding="utf-8") == render(compile_contracts())
