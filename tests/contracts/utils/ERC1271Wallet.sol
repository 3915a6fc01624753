// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {IShipmentEscrow} from "../../../contracts/interfaces/IShipmentEscrow.sol";

/// @dev A minimal smart-contract wallet: ERC-1271 signatures by one owner key, owner-only calls,
/// and a switchable ETH receiver (accepts, refuses, or tries to re-enter the escrow).
contract ERC1271Wallet is IERC1271 {
    enum ReceiveMode {
        Accept,
        Reject,
        Reenter
    }

    address public immutable owner;
    ReceiveMode public receiveMode;
    bytes public reentryError;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view override returns (bytes4) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        if (err == ECDSA.RecoverError.NoError && signer == owner) return IERC1271.isValidSignature.selector;
        return 0xffffffff;
    }

    function execute(address target, bytes calldata data) external returns (bytes memory) {
        require(msg.sender == owner, "not owner");
        return Address.functionCall(target, data);
    }

    function setReceiveMode(ReceiveMode mode) external {
        require(msg.sender == owner, "not owner");
        receiveMode = mode;
    }

    receive() external payable {
        if (receiveMode == ReceiveMode.Reject) revert("no ETH");
        if (receiveMode == ReceiveMode.Reenter) {
            // Keep the payment but remember why the nested withdraw failed.
            try IShipmentEscrow(msg.sender).withdraw(address(0)) {}
            catch (bytes memory err) {
                reentryError = err;
            }
        }
    }
}
