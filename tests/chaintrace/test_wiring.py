"""Dev-mode wiring: run.json, settings precedence, the embedded broker fallback."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from api.settings import ApiSettings
from chain.keys import KeyConfigError
from chain.settings import AnchorSettings
from chaintrace.embedded_broker import EmbeddedBroker
from chaintrace.runinfo import RunInfo, RunInfoMissing
from chaintrace.wiring import DeploySettings, load_settings

ANVIL_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_ADDRESS_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_runinfo_round_trips_and_refuses_a_stale_owner(tmp_path: Path) -> None:
    info = RunInfo(owner_pid=os.getpid(), chain_rpc_url="http://127.0.0.1:1", mqtt_protocol="3.1.1")
    info.write(tmp_path)
    assert RunInfo.read(tmp_path) == info
    RunInfo(owner_pid=2**22 + 12345).write(tmp_path)  # above Linux's pid_max default
    with pytest.raises(RunInfoMissing, match="stale"):
        RunInfo.read(tmp_path)
    RunInfo.remove(tmp_path)
    with pytest.raises(RunInfoMissing, match="chaintrace up"):
        RunInfo.read(tmp_path)


def test_environment_beats_run_json_and_run_json_fills_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:////from/env.db")
    monkeypatch.delenv("CHAIN_RPC_URL", raising=False)
    fallback = {
        "chaintrace_dev": True,
        "database_url": "sqlite:////from/run.json",
        "chain_rpc_url": "http://127.0.0.1:8545",
        "not_a_field_of_api_settings": 1,
    }
    s = load_settings(ApiSettings, fallback)
    assert s.database_url == "sqlite:////from/env.db"
    assert s.chain_rpc_url == "http://127.0.0.1:8545"
    assert s.dev
    explicit = load_settings(ApiSettings, fallback, database_url="sqlite:////explicit.db")
    assert explicit.database_url == "sqlite:////explicit.db"


def test_outside_dev_mode_a_missing_url_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "CHAIN_RPC_URL", "CHAINTRACE_DEV", "ANCHORER_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="DATABASE_URL"):
        load_settings(AnchorSettings, None)


def test_deployer_key_from_env_and_dev_keys_only_in_dev_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("CHAINTRACE_DEV", "DEPLOYER_KEYSTORE", "DEPLOYER_KEYSTORE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHAIN_RPC_URL", "http://127.0.0.1:1")
    monkeypatch.delenv("DEPLOYER_PRIVATE_KEY", raising=False)
    with pytest.raises(KeyConfigError, match="deployer key: no private key or keystore"):
        DeploySettings().load_account()
    # anvil's account 0: public, so the deployer may use it only in dev mode.
    monkeypatch.setenv("DEPLOYER_PRIVATE_KEY", ANVIL_KEY_0)
    with pytest.raises(KeyConfigError, match=r"deployer key: .* public anvil/Hardhat test account"):
        DeploySettings().load_account()
    monkeypatch.setenv("CHAINTRACE_DEV", "1")
    assert DeploySettings().load_account().address == ANVIL_ADDRESS_0


def test_amqtt_fallback_broker_carries_messages() -> None:
    with EmbeddedBroker(prefer_mosquitto=False) as broker:
        assert broker.kind == "amqtt" and broker.protocol == "3.1.1"
        got = threading.Event()
        received: list[bytes] = []

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            received.append(bytes(msg.payload))
            got.set()

        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        sub.on_message = on_message
        sub.connect("127.0.0.1", broker.port)
        sub.subscribe("t/#", qos=1)
        sub.loop_start()
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        try:
            for _ in range(50):  # until the subscription is in place
                pub.publish("t/x", b"hello", qos=1).wait_for_publish(5)
                if got.wait(0.2):
                    break
            assert received and received[0] == b"hello"
        finally:
            pub.loop_stop()
            sub.loop_stop()
            pub.disconnect()
            sub.disconnect()
