"""The chain package's exception hierarchy (named Solidity errors: chain.solidity_errors)."""

from __future__ import annotations

from typing import Any, ClassVar

from core.hexstr import hex0x


class ChainError(Exception):
    """Root of every error raised by chain/."""


class ChainConnectionError(ChainError, ConnectionError):
    """The JSON-RPC node cannot be reached or stopped answering."""


class ChainValueError(ChainError, ValueError):
    """An argument or a value read from the chain is invalid."""


class CompilationError(ChainError):
    """The contracts could not be compiled, or the compiler could not be found."""


class DeploymentNotFound(ChainError, LookupError):
    """No verified deployment of the contracts exists on the connected chain."""


class NodeRefused(ChainError):
    """The node refused a request; the subclasses below are the refusals of a raw transaction that
    the senders act on (sorted once, in chain.transactions.chain_errors)."""


class NonceUsed(NodeRefused):
    """The transaction's nonce is already used by a mined transaction of the same account."""


class AlreadyKnown(NodeRefused):
    """The node already holds this very transaction (in its pool or mined)."""


class Underpriced(NodeRefused):
    """The transaction's fees are too low: below the base fee, or too small a replacement bump."""


# Lower-cased fragments of the messages geth, anvil, Nethermind and Besu give for each refusal.
_REFUSALS: tuple[tuple[type[NodeRefused], tuple[str, ...]], ...] = (
    (AlreadyKnown, ("already known", "already imported", "known transaction")),
    (NonceUsed, ("nonce too low", "nonce has already been used")),
    (Underpriced, ("underpriced", "fee")),
)


def node_refusal(message: str) -> NodeRefused:
    """The typed refusal for a node's error message (NodeRefused itself when none fits)."""
    lowered = message.lower()
    for kind, fragments in _REFUSALS:
        if any(fragment in lowered for fragment in fragments):
            return kind(message)
    return NodeRefused(message)


class TransactionFailed(ChainError):
    """A mined transaction has status 0 and its revert reason could not be recovered."""

    def __init__(self, message: str, tx_hash: bytes | None = None) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return hex0x(value)
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return repr(value) if isinstance(value, str) else str(value)


class ContractRevert(ChainError):
    """A contract call or transaction reverted; subclasses name the Solidity error.

    `name` is the Solidity error name, `args_dict` its decoded arguments by name,
    `selector` the 4-byte selector (None for a revert without data).
    """

    signature: ClassVar[str] = ""
    # The error's NatSpec @notice as a user reads it (chain.toolchain.generate_errors), or None.
    notice: ClassVar[str | None] = None
    arg_names: ClassVar[tuple[str, ...]] = ()
    arg_types: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        name: str,
        args_dict: dict[str, Any] | None = None,
        selector: bytes | None = None,
        data: bytes = b"",
    ) -> None:
        self.name = name
        self.args_dict = dict(args_dict or {})
        self.selector = selector
        self.data = data
        super().__init__(self._message())

    def _message(self) -> str:
        args = ", ".join(f"{k}={_show(v)}" for k, v in self.args_dict.items())
        return f"{self.name}({args})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.name, self.args_dict, self.selector, self.data))


def _rebuild(
    cls: type[ContractRevert], name: str, args: dict[str, Any], sel: bytes | None, data: bytes
) -> ContractRevert:
    return cls(name, args, sel, data)


class UnknownRevert(ContractRevert):
    """A revert without data, with an unknown selector, or with undecodable arguments."""

    def _message(self) -> str:
        if self.selector is None:
            return "reverted without a reason"
        if self.name != "UnknownError":
            return f"{self.name} with undecodable arguments ({len(self.data)} bytes of data)"
        return f"unknown custom error 0x{self.selector.hex()} ({len(self.data)} bytes of data)"


class RevertMessage(ContractRevert):
    """Solidity `Error(string)`: a require/revert with a reason string."""

    signature = "Error(string)"
    arg_names = ("message",)
    arg_types = ("string",)

    @property
    def message(self) -> str:
        """The reason string."""
        return str(self.args_dict["message"])


PANIC_REASONS = {
    0x00: "generic compiler panic",
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "invalid storage byte array",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialised function",
}


class Panic(ContractRevert):
    """Solidity `Panic(uint256)`: an assert, overflow, division by zero, bad index..."""

    signature = "Panic(uint256)"
    arg_names = ("code",)
    arg_types = ("uint256",)

    @property
    def code(self) -> int:
        """The panic code."""
        return int(self.args_dict["code"])

    def _message(self) -> str:
        code = int(self.args_dict.get("code", -1))
        return f"Panic(0x{code:02x}: {PANIC_REASONS.get(code, 'unknown panic code')})"
