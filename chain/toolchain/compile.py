"""Compile contracts/ with py-solc-x using foundry.toml's settings, cached on disk by content."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import solcx
from pydantic_settings import BaseSettings, SettingsConfigDict
from solcx.exceptions import SolcError

from chain.errors import CompilationError
from chain.toolchain.artifacts import (
    ContractArtifact,
    artifacts_from_output,
    read_cache,
    write_cache,
)

_LOGGER = logging.getLogger(__name__)

# Only import paths matter; comments are blanked first so commented-out imports are ignored.
_COMMENT_OR_STRING = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', re.S)
_IMPORT = re.compile(r'\bimport\s+(?:[^;"\']*?\bfrom\s+)?["\']([^"\']+)["\']')
_VERSION = re.compile(r"Version:\s*(\d+\.\d+\.\d+)")
_OUTPUT_SELECTION = [
    "abi",
    "evm.bytecode.object",
    "evm.deployedBytecode.object",
    "evm.deployedBytecode.immutableReferences",
]


@dataclass(frozen=True)
class CompilerConfig:
    """The compiler settings of one foundry.toml profile."""

    root: Path
    src: str
    solc: str
    evm_version: str
    optimizer: bool
    optimizer_runs: int
    via_ir: bool
    remappings: tuple[str, ...]
    bytecode_hash: str
    cbor_metadata: bool
    use_literal_content: bool


class SolcSettings(BaseSettings):
    """SOLC_BINARY: a solc to use instead of looking up the version foundry.toml names."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)

    # Empty counts as unset, as an unset variable does.
    solc_binary: str | None = None


def project_root() -> Path:
    """The repository root: the package is installed editable, so it sits next to chain/."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "foundry.toml").is_file():
        raise CompilationError(f"no foundry.toml in {root}; pass the project root explicitly")
    return root


def load_config(root: Path | None = None, profile: str = "default") -> CompilerConfig:
    """Read the compiler settings from foundry.toml (the only place that holds them)."""
    root = (root or project_root()).resolve()
    try:
        data = tomllib.loads((root / "foundry.toml").read_text(encoding="utf-8"))
        prof: dict[str, Any] = dict(data["profile"]["default"])
        if profile != "default":
            prof.update(data["profile"].get(profile, {}))
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise CompilationError(f"cannot read {root / 'foundry.toml'}: {exc}") from exc
    remappings = tuple(str(r) for r in prof.get("remappings", []))
    if prof.get("auto_detect_remappings", True):
        # forge adds the remappings it finds under `libs`; solc hashes them into the metadata,
        # so the bytecode matches forge's only with forge's exact list.
        remappings = _forge_remappings(root) or remappings
    return CompilerConfig(
        root=root,
        src=str(prof.get("src", "src")),
        solc=str(prof.get("solc", prof.get("solc_version", ""))),
        evm_version=str(prof.get("evm_version", "cancun")),
        optimizer=bool(prof.get("optimizer", False)),
        optimizer_runs=int(prof.get("optimizer_runs", 200)),
        via_ir=bool(prof.get("via_ir", False)),
        remappings=remappings,
        bytecode_hash=str(prof.get("bytecode_hash", "ipfs")),
        cbor_metadata=bool(prof.get("cbor_metadata", True)),
        use_literal_content=bool(prof.get("use_literal_content", False)),
    )


def _forge_remappings(root: Path) -> tuple[str, ...]:
    """The remappings forge derives from foundry.toml, or () when forge is not available."""
    local = root / "node_modules" / ".bin" / "forge"
    forge = str(local) if local.is_file() else shutil.which("forge")
    if forge is None:
        _LOGGER.warning("forge not found: set auto_detect_remappings = false in foundry.toml")
        return ()
    try:
        out = subprocess.run(
            [forge, "remappings", "--root", str(root)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        _LOGGER.warning("forge remappings failed (%s); using foundry.toml's list", exc)
        return ()
    return tuple(line.strip() for line in out.splitlines() if "=" in line)


def _solc_settings(config: CompilerConfig) -> dict[str, Any]:
    """Standard-JSON settings laid out as forge lays them out (the metadata hash covers them)."""
    return {
        "remappings": list(config.remappings),
        "optimizer": {"enabled": config.optimizer, "runs": config.optimizer_runs},
        "metadata": {
            "useLiteralContent": config.use_literal_content,
            "bytecodeHash": config.bytecode_hash,
            "appendCBOR": config.cbor_metadata,
        },
        "outputSelection": {"*": {"*": _OUTPUT_SELECTION}},
        "evmVersion": config.evm_version,
        "viaIR": config.via_ir,
        "libraries": {},
    }


def _imports(source: str) -> list[str]:
    blanked = _COMMENT_OR_STRING.sub(
        lambda m: m.group(0) if m.group(0)[0] in "\"'" else " ", source
    )
    return _IMPORT.findall(blanked)


def _resolve_import(importer: str, path: str, remappings: tuple[str, ...]) -> str:
    """Map an import to its source unit name the way solc (and so forge) does."""
    if path.startswith(("./", "../")):
        parts: list[str] = []
        for part in (PurePosixPath(importer).parent / path).parts:
            if part == "..":
                if parts:
                    parts.pop()
            elif part != ".":
                parts.append(part)
        return "/".join(parts)
    best = ("", "")
    for remap in remappings:
        prefix, _, target = remap.partition("=")
        prefix = prefix.rpartition(":")[2]  # context-free remappings only apply everywhere
        if path.startswith(prefix) and len(prefix) > len(best[0]):
            best = (prefix, target)
    return best[1] + path[len(best[0]) :] if best[0] else path


def collect_sources(config: CompilerConfig) -> dict[str, str]:
    """Every .sol file under src plus everything it imports, keyed by source unit name."""
    root = config.root
    pending = sorted(p.relative_to(root).as_posix() for p in (root / config.src).rglob("*.sol"))
    if not pending:
        raise CompilationError(f"no Solidity sources under {root / config.src}")
    sources: dict[str, str] = {}
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        file = (root / unit).resolve()
        if not file.is_relative_to(root):
            raise CompilationError(f"import {unit!r} resolves outside the project root")
        try:
            sources[unit] = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise CompilationError(f"cannot read source {unit!r}: {exc}") from exc
        pending.extend(
            _resolve_import(unit, imp, config.remappings) for imp in _imports(sources[unit])
        )
    return dict(sorted(sources.items()))


def _version_of(binary: Path) -> str:
    """The x.y.z version a solc binary reports (memoized by file identity)."""
    stat = binary.stat()
    return _version_memo(str(binary), stat.st_mtime_ns, stat.st_size)


@cache
def _version_memo(binary: str, _mtime_ns: int, _size: int) -> str:
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise CompilationError(f"cannot run {binary} --version: {exc}") from exc
    match = _VERSION.search(out)
    if match is None:
        raise CompilationError(f"{binary} --version printed no version")
    return match.group(1)


def resolve_solc(
    config: CompilerConfig,
    override: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """The solc to use: override, SOLC_BINARY, a native solc of the configured version, the shim.

    SOLC_BINARY comes from `environ` when given, else from the process environment.
    """
    if environ is None:
        settings = SolcSettings()
    else:
        settings = SolcSettings(solc_binary=environ.get("SOLC_BINARY"))
    explicit = override or settings.solc_binary
    if explicit:
        return Path(explicit).resolve()
    configured = config.solc
    if re.fullmatch(r"\d+\.\d+\.\d+", configured):
        wanted, fallback = configured, None
    else:
        fallback = (config.root / configured).resolve()
        if not fallback.is_file():
            raise CompilationError(f"foundry.toml names solc {configured!r}, which does not exist")
        wanted = _version_of(fallback)
    native = solcx.get_solcx_install_folder() / f"solc-v{wanted}"
    if native.is_file():
        return native
    on_path = shutil.which("solc")
    if on_path and _version_of(Path(on_path)) == wanted:
        return Path(on_path)
    if fallback is None:
        raise CompilationError(f"no solc {wanted} found; set SOLC_BINARY or foundry.toml solc")
    return fallback


def compile_contracts(
    root: Path | None = None,
    solc_binary: str | Path | None = None,
    cache_dir: Path | None = None,
    profile: str = "default",
) -> dict[str, ContractArtifact]:
    """Compile (or load from the cache) every contract under src; keyed by contract name."""
    config = load_config(root, profile)
    binary = resolve_solc(config, solc_binary)
    version = _version_of(binary)
    std_input = {"language": "Solidity", "sources": {}, "settings": _solc_settings(config)}
    std_input["sources"] = {k: {"content": v} for k, v in collect_sources(config).items()}
    blob = json.dumps({"input": std_input, "solc": version}, sort_keys=True).encode()
    key = hashlib.sha256(blob).hexdigest()
    cache_file = (cache_dir or config.root / ".chaintrace" / "artifacts") / f"{key}.json"
    cached = read_cache(cache_file)
    if cached is not None:
        return cached
    _LOGGER.info(
        "compiling %d sources with solc %s (%s)", len(std_input["sources"]), version, binary
    )
    try:
        output = solcx.compile_standard(std_input, solc_binary=binary)
    except SolcError as exc:
        raise CompilationError(f"solc failed: {exc.message}") from exc
    artifacts = artifacts_from_output(output, config.src)
    write_cache(cache_file, artifacts)
    return artifacts


def error_notices(root: Path | None = None, profile: str = "default") -> dict[str, str]:
    """Each custom error's NatSpec `@notice`, by error name, from solc's userdoc output.

    Compiled apart from compile_contracts (only the userdoc is asked for, so no code is
    generated); the bytecode does not depend on which outputs are selected.
    """
    config = load_config(root, profile)
    binary = resolve_solc(config, None)
    settings = _solc_settings(config)
    settings["outputSelection"] = {"*": {"*": ["userdoc"]}}
    sources = {k: {"content": v} for k, v in collect_sources(config).items()}
    std_input = {"language": "Solidity", "sources": sources, "settings": settings}
    try:
        output = solcx.compile_standard(std_input, solc_binary=binary)
    except SolcError as exc:
        raise CompilationError(f"solc failed: {exc.message}") from exc
    notices: dict[str, str] = {}
    for contracts in output.get("contracts", {}).values():
        for contract in contracts.values():
            for signature, docs in contract.get("userdoc", {}).get("errors", {}).items():
                name = signature.split("(")[0]
                for notice in (d["notice"] for d in docs if d.get("notice")):
                    if notices.setdefault(name, notice) != notice:
                        raise CompilationError(f"error {name} has two @notice texts")
    return dict(sorted(notices.items()))


@cache
def default_artifacts() -> dict[str, ContractArtifact]:
    """The project's artifacts, compiled once per process."""
    return compile_contracts()
