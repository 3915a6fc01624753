"""Configuration of one gateway process (pydantic-settings; the only reader of the environment)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from device.mqtt_link import MqttEndpoint, parse_mqtt_url

_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
# Mosquitto accepts longer ids; keep them printable and free of MQTT wildcards.
_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_GROUP_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class GatewaySettings(BaseSettings):
    """Settings of `python -m iot_gateway`; shared names unprefixed, the rest GATEWAY_*."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_",
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,  # MQTT_URL / DATABASE_URL may carry passwords
    )

    mqtt_url: str = Field(validation_alias="MQTT_URL")
    database_url: str = Field(validation_alias="DATABASE_URL")
    reading_chain_id: int = Field(validation_alias="READING_CHAIN_ID", gt=0)
    reading_verifying_contract: str = Field(validation_alias="READING_VERIFYING_CONTRACT")

    client_id: str = "chaintrace-gateway-0"
    protocol: Literal["5", "3.1.1"] = "5"
    shared_group: str | None = None
    mqtt_ca_file: str | None = None
    keepalive_s: int = Field(30, ge=5, le=65535)
    # Broker-side session lifetime (MQTT 5), so unacknowledged readings survive a restart.
    session_expiry_s: int = Field(3600, ge=0)
    # MQTT 5 ReceiveMaximum: without it Mosquitto keeps only 20 QoS 1 messages in flight.
    receive_maximum: int = Field(1000, ge=1, le=65535)

    # Processes that parse and verify readings (None: 1 on 2+ cores; 0: in the main process).
    verify_processes: int | None = Field(None, ge=0, le=16)
    max_payload_bytes: int = Field(4096, ge=256, le=1_048_576)
    max_future_skew_s: int = Field(300, ge=0)
    queue_size: int = Field(5000, ge=1)
    batch_size: int = Field(500, ge=1, le=10_000)
    # How long the writer waits for more messages to fill a batch before committing.
    flush_interval_s: float = Field(0.02, ge=0.0, le=10.0)

    registry_refresh_s: float = Field(30.0, gt=0.0)
    # At most one registry reload per this interval when an unknown device shows up.
    registry_miss_reload_s: float = Field(2.0, ge=0.0)
    # A revoked device's readings taken before its revocation are still accepted if they arrive
    # within this long after it (store-and-forward backlog); later, a thief with the stolen key
    # could backdate any reading, so they are refused (revoked_device). 0: no backlog at all.
    revoked_backlog_s: int = Field(86_400, ge=0)

    window_readings: int = Field(10, ge=1, le=10_000)
    window_seconds: int = Field(900, ge=1)
    # A window with a missing seq waits this long for the late reading before it is closed.
    rollup_lateness_s: int = Field(60, ge=0)
    rollup_interval_s: float = Field(5.0, gt=0.0)

    # Dead letters are purged by the gateway: older than the retention, and beyond the newest
    # max_rows of their reason (a flood of junk cannot grow the table without bound, nor push out
    # the rows of another reason, e.g. equivocation), every purge interval.
    dead_letter_retention_s: int = Field(7 * 86_400, ge=60)
    dead_letter_max_rows: int = Field(10_000, ge=1)
    dead_letter_purge_interval_s: float = Field(60.0, gt=0.0)

    # SQLite only: FULL makes each commit durable before the MQTT ack (WAL + fsync per commit).
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "FULL"

    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(None, ge=0, le=65535)
    stats_interval_s: float | None = Field(None, gt=0.0)

    @field_validator("reading_verifying_contract")
    @classmethod
    def _check_address(cls, value: str) -> str:
        if not _ADDRESS_RE.fullmatch(value):
            raise ValueError("READING_VERIFYING_CONTRACT must be a 0x-prefixed 20-byte hex address")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        parse_mqtt_url(value)
        return value

    @field_validator("client_id")
    @classmethod
    def _check_client_id(cls, value: str) -> str:
        if not _CLIENT_ID_RE.fullmatch(value):
            raise ValueError("client_id: 1-64 characters of A-Z a-z 0-9 _ . : -")
        return value

    @field_validator("shared_group")
    @classmethod
    def _check_group(cls, value: str | None) -> str | None:
        if value is not None and not _GROUP_RE.fullmatch(value):
            raise ValueError("shared_group: 1-64 characters of A-Z a-z 0-9 _ . : -")
        return value

    @model_validator(mode="after")
    def _shared_needs_v5(self) -> GatewaySettings:
        if self.shared_group is not None and self.protocol != "5":
            raise ValueError("shared subscriptions need MQTT 5 (protocol='5')")
        return self

    @property
    def mqtt(self) -> MqttEndpoint:
        """The broker endpoint parsed from mqtt_url."""
        return parse_mqtt_url(self.mqtt_url)
