"""Every migration since the previous release, run on the store that release's demo left behind.

tests/store/fixtures/demo_release_0007.sqlite is the database `chaintrace demo` wrote at commit
637625c (schema 0007_batch_trees: 22 events, 2 anchored batches, 80 readings, a settled
shipment). On PostgreSQL the same rows are copied into a database migrated to 0007 first. Then
`upgrade` runs to head: nothing is lost, and what the store proves still holds (every event
re-hashes to its stored hash, every leaf proves into its batch's root, every reading's digest
recomputes and is signed by its device). A new release adds its own demo store here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from chain.settlement.attestation import verified_digest
from core.eip712 import anchor_domain
from core.epcis.hashing import event_hash
from core.merkle import verify
from store.db import downgrade, make_engine, session_factory, sqlite_url, upgrade
from store.models import AnchorBatch, Event, Leaf, Reading
from store.outbox import leaf_proof

FIXTURE = Path(__file__).with_name("fixtures") / "demo_release_0007.sqlite"
RELEASE = "0007_batch_trees"
# The demo's chain (its deployments.json): anvil's chain id and where TraceAnchor was deployed,
# the EIP-712 domain its devices signed readings under.
DEMO_CHAIN_ID = 31337
DEMO_TRACE_ANCHOR = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DEMO_ESCROW_V1 = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


def _counts(engine: sa.Engine) -> dict[str, int]:
    names = sorted(sa.inspect(engine).get_table_names())
    with engine.connect() as conn:
        return {
            name: int(conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one())
            for name in names
            if name != "alembic_version"
        }


def _copy_rows(source: sa.Engine, target: sa.Engine) -> None:
    """Every row of the SQLite store into the same tables of `target` (both at 0007)."""
    src_meta, dst_meta = sa.MetaData(), sa.MetaData()
    src_meta.reflect(source)
    dst_meta.reflect(target)
    with source.connect() as read, target.begin() as write:
        for table in dst_meta.sorted_tables:  # parents before children
            if table.name == "alembic_version":
                continue
            rows = [dict(r._mapping) for r in read.execute(select(src_meta.tables[table.name]))]
            if rows:
                write.execute(table.insert(), rows)
        for table in dst_meta.sorted_tables:
            pk = [c for c in table.primary_key.columns if isinstance(c.type, sa.Integer)]
            if len(pk) == 1 and target.dialect.name == "postgresql":
                # Rows came with their ids: move each sequence past them.
                write.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'),"
                        f" coalesce((SELECT max({pk[0].name}) FROM {table.name}), 0) + 1, false)"
                    )
                )


@pytest.fixture
def release_store(db_url: str, tmp_path: Path) -> str:
    """A database URL holding the previous release's demo store, at that release's schema."""
    copy = tmp_path / "demo.sqlite"
    shutil.copy(FIXTURE, copy)
    if db_url.startswith("sqlite"):
        return sqlite_url(copy)
    # The test database may come migrated to head: bring its schema to the release's.
    upgrade(db_url)
    downgrade(db_url, RELEASE)
    source, target = make_engine(sqlite_url(copy)), make_engine(db_url)
    try:
        with target.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        assert version == RELEASE
        _copy_rows(source, target)
    finally:
        source.dispose()
        target.dispose()
    return db_url


def _check_proofs_hold(engine: sa.Engine) -> None:
    sessions = session_factory(engine)
    domain = anchor_domain(DEMO_CHAIN_ID, DEMO_TRACE_ANCHOR)
    with sessions() as session:
        events = list(session.scalars(select(Event)))
        assert events
        for event in events:
            assert event_hash(json.loads(event.event_json)) == bytes(event.event_hash)
        leaves = list(session.scalars(select(Leaf).where(Leaf.batch_id.is_not(None))))
        assert len(leaves) == len(events)
        for leaf in leaves:
            batch = session.get(AnchorBatch, leaf.batch_id)
            assert batch is not None
            proof = leaf_proof(leaf, batch)
            assert proof is not None
            steps = [bytes.fromhex(p.removeprefix("0x")) for p in proof]
            assert verify(bytes(batch.root), bytes(leaf.leaf_hash), steps)
        readings = list(session.scalars(select(Reading)))
        assert len(readings) == 80
        assert all(verified_digest(row, domain) is not None for row in readings)


def test_upgrading_the_previous_releases_demo_store_keeps_every_row_and_proof(
    release_store: str,
) -> None:
    engine = make_engine(release_store)
    try:
        before = _counts(engine)
        assert before["events"] == 22 and before["readings"] == 80
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        assert version == RELEASE
        engine.dispose()
        upgrade(release_store)
        after = _counts(engine)
        assert {name: after[name] for name in before} == before
        _check_proofs_hold(engine)
        with engine.connect() as conn:  # 0010: the release's shipments stay on escrow v1
            versions = conn.execute(sa.text("SELECT escrow_version FROM shipments")).scalars()
            assert list(versions) == [1]
            # 0012: shipments of the earlier rules need no custody consent (none is stalled).
            required = conn.execute(sa.text("SELECT custody_required FROM shipments")).scalars()
            assert [bool(r) for r in required] == [False]
            # 0011: the view's row belongs to the escrow its logs came from (the demo's v1).
            views = conn.execute(sa.text("SELECT contract, state FROM escrow_view")).all()
            assert [tuple(v) for v in views] == [(DEMO_ESCROW_V1, "settled")]
            # 0013: the release's batches went to TraceAnchor v1, where their roots stay.
            anchors = conn.execute(sa.text("SELECT anchor_version FROM anchor_batches")).scalars()
            assert list(anchors) == [1, 1]
        engine.dispose()
        # Down to the release and back up: still nothing lost.
        downgrade(release_store, RELEASE)
        assert _counts(engine) == before
        engine.dispose()
        upgrade(release_store)
        assert _counts(engine) == after
        _check_proofs_hold(engine)
    finally:
        engine.dispose()


def test_0011_downgrade_is_refused_while_an_id_has_rows_of_two_escrows(
    release_store: str,
) -> None:
    upgrade(release_store)
    engine = make_engine(release_store)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO escrow_view (shipment_id, contract, state, block_number, tx_hash)"
                    " SELECT shipment_id, :other, 'funded', block_number, tx_hash FROM escrow_view"
                ),
                {"other": "0x" + "ab" * 20},
            )
        engine.dispose()
        with pytest.raises(RuntimeError, match="held by two escrow contracts"):
            downgrade(release_store, "0010_shipment_escrow_version")
        engine.dispose()
        with engine.begin() as conn:
            conn.execute(
                sa.text("DELETE FROM escrow_view WHERE contract = :other"),
                {"other": "0x" + "ab" * 20},
            )
        engine.dispose()
        downgrade(release_store, "0010_shipment_escrow_version")
        with engine.connect() as conn:
            views = conn.execute(sa.text("SELECT shipment_id, state FROM escrow_view")).all()
        assert len(views) == 1 and views[0][1] == "settled"
    finally:
        engine.dispose()


def test_0013_downgrade_is_refused_while_a_batch_went_to_trace_anchor_v2(
    release_store: str,
) -> None:
    """Below 0013 a v2 batch would read as v1's (its proofs checked on the wrong contract)."""
    upgrade(release_store)
    engine = make_engine(release_store)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE anchor_batches SET anchor_version = 2"))
        engine.dispose()
        with pytest.raises(RuntimeError, match="went to TraceAnchor v2"):
            downgrade(release_store, "0012_custody_approvals")
        engine.dispose()
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE anchor_batches SET anchor_version = 1"))
        engine.dispose()
        downgrade(release_store, "0012_custody_approvals")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("anchor_batches")}
        assert "anchor_version" not in columns
    finally:
        engine.dispose()


def test_0010_downgrade_is_refused_while_a_v2_shipment_is_stored(release_store: str) -> None:
    """Below 0010 a v2 shipment would read as v1 (and be attested against the wrong escrow)."""
    upgrade(release_store)
    engine = make_engine(release_store)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE shipments SET escrow_version = 2"))
        engine.dispose()
        with pytest.raises(RuntimeError, match="use ShipmentEscrow v2"):
            downgrade(release_store, "0009_dead_letters_reason_id")
        engine.dispose()
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE shipments SET escrow_version = 1"))
        engine.dispose()
        downgrade(release_store, "0009_dead_letters_reason_id")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("shipments")}
        assert not {"escrow_version", "carrier_signature", "fund_by", "attested_evidence"} & columns
    finally:
        engine.dispose()
