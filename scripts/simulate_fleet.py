#!/usr/bin/env python3
"""Run N simulated devices that sign readings and publish them over MQTT (optionally an excursion).

Device keys are derived from --seed, so the same seed always gives the same devices: register
the addresses printed on the first line (JSON) before the gateway will accept their readings.
With --state-dir the devices' sequence numbers continue across runs (a reused seq with other
content is equivocation); unacknowledged readings are resent every --resend-after seconds.

Example: python scripts/simulate_fleet.py --mqtt-url mqtt://127.0.0.1:1883 --chain-id 31337 \
    --verifying-contract 0x5FbDB2315678afecb367f032d93F642f64180aa3 --devices 3 --rate 2 \
    --count 120 --excursion-start 20 --excursion-seconds 30 --excursion-delta-c 6 \
    --excursion-device 0
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from core.eip712 import anchor_domain
from device.fleet import Excursion, Fleet, SensorProfile, fleet_keys
from device.mqtt_link import parse_mqtt_url


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mqtt-url", required=True, help="mqtt://[user:pass@]host:port")
    parser.add_argument("--protocol", choices=["5", "3.1.1"], default="5")
    parser.add_argument("--chain-id", type=int, required=True, help="EIP-712 domain chain id")
    parser.add_argument("--verifying-contract", required=True, help="TraceAnchor address")
    parser.add_argument("--devices", type=int, default=3)
    parser.add_argument("--seed", default="chaintrace-fleet", help="derives the device keys")
    parser.add_argument("--rate", type=float, default=1.0, help="readings per second per device")
    parser.add_argument("--count", type=int, default=0, help="readings per device (0: forever)")
    parser.add_argument("--base-temp-c", type=float, default=4.0)
    parser.add_argument("--noise-c", type=float, default=0.2)
    parser.add_argument("--excursion-start", type=float, help="seconds after the start")
    parser.add_argument("--excursion-seconds", type=float, default=60.0)
    parser.add_argument("--excursion-delta-c", type=float, default=6.0)
    parser.add_argument("--excursion-device", type=int, action="append", help="index (repeat)")
    parser.add_argument("--wait-acks", type=float, default=30.0, help="seconds to wait at the end")
    parser.add_argument(
        "--resend-after", type=float, default=10.0, help="resend readings unacked this long (s)"
    )
    parser.add_argument(
        "--state-dir", type=Path, help="keeps each device's next seq here, across restarts"
    )
    args = parser.parse_args(argv)
    if args.devices < 1 or args.rate <= 0 or args.count < 0 or args.resend_after <= 0:
        parser.error("--devices >= 1, --rate > 0, --count >= 0, --resend-after > 0 are required")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the fleet; prints the device addresses first and a JSON summary last."""
    args = _args(argv)
    excursion = None
    if args.excursion_start is not None:
        excursion = Excursion(
            start_s=args.excursion_start,
            duration_s=args.excursion_seconds,
            delta_centi_c=round(args.excursion_delta_c * 100),
            devices=frozenset(args.excursion_device) if args.excursion_device else None,
        )
    profile = SensorProfile(
        base_centi_c=round(args.base_temp_c * 100),
        noise_centi_c=round(args.noise_c * 100),
        excursion=excursion,
    )
    fleet = Fleet(
        fleet_keys(args.seed, args.devices),
        anchor_domain(args.chain_id, args.verifying_contract),
        parse_mqtt_url(args.mqtt_url),
        protocol=args.protocol,
        profile=profile,
        resend_after_s=args.resend_after,
        state_dir=args.state_dir,
    )
    print(json.dumps({"devices": fleet.addresses}), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        fleet.connect()
    except (OSError, TimeoutError) as exc:
        print(
            f"simulate_fleet: cannot connect to {parse_mqtt_url(args.mqtt_url)!r}: {exc}",
            file=sys.stderr,
        )
        fleet.close()
        return 2
    try:
        published = fleet.run(args.rate, args.count or None, stop)
        acked = fleet.wait_acked(args.wait_acks) if args.wait_acks > 0 else False
    finally:
        fleet.close()
    acks = {c.device.address: c.device.acked_seq for c in fleet.clients}
    summary = {"published": published, "resent": fleet.resent, "allAcked": acked, "ackedSeq": acks}
    print(json.dumps(summary), flush=True)
    return 0 if acked or args.wait_acks == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
