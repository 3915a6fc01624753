// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @dev A plain ERC-20 that anyone may mint (test deposits).
contract TestToken is ERC20 {
    constructor(string memory name_, string memory symbol_) ERC20(name_, symbol_) {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

/// @dev An ERC-20 that burns `feeBps` of every transfer: the recipient gets less than was sent.
contract FeeOnTransferToken is TestToken {
    uint256 public immutable feeBps;

    constructor(uint256 feeBps_) TestToken("Fee token", "FEE") {
        feeBps = feeBps_;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, value);
            return;
        }
        uint256 fee = value * feeBps / 10_000;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}

/// @dev An ERC-20 whose transferFrom returns false instead of reverting (SafeERC20 must catch it).
contract FalseReturningToken is TestToken {
    constructor() TestToken("False token", "NOPE") {}

    function transferFrom(address, address, uint256) public pure override returns (bool) {
        return false;
    }
}
