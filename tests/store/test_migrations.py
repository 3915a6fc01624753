"""Alembic migrations create exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, Table

from store.db import alembic_config, downgrade, make_engine, session_factory, upgrade
from store.models import Base


def _diff(url: str, metadata: MetaData) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_exactly_the_models_schema(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    assert _tables(empty_db_url) == set(Base.metadata.tables) | {"alembic_version"}
    assert _diff(empty_db_url, Base.metadata) == []


def test_comparison_sees_a_schema_difference(empty_db_url: str) -> None:
    # Guards the test above against a comparison that finds nothing whatever the schema.
    upgrade(empty_db_url)
    extended = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extended)
    Table("not_migrated", extended, Column("id", Integer, primary_key=True))
    diff = _diff(empty_db_url, extended)
    assert [entry[0] for entry in diff] == ["add_table"]  # type: ignore[index]


def test_upgrade_twice_is_a_no_op_and_downgrade_drops_everything(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    upgrade(empty_db_url)
    assert _diff(empty_db_url, Base.metadata) == []
    downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) == {"alembic_version"}
    upgrade(empty_db_url)
    assert _diff(empty_db_url, Base.metadata) == []


def test_revision_files_import_no_model_code() -> None:
    # A revision must keep describing its own schema after the models change.
    from pathlib import Path

    import store.migrations

    versions = Path(store.migrations.__file__).parent / "versions"
    revisions = sorted(versions.glob("*.py"))
    assert revisions
    for path in revisions:
        text = path.read_text()
        assert "store.models" not in text and "from store" not in text, path.name


def test_0007_keeps_older_proofs_and_refuses_a_downgrade_that_loses_trees(
    empty_db_url: str,
) -> None:
    import pytest

    from core.merkle import MerkleTree
    from store.db import session_factory, transaction
    from store.models import AnchorBatch, Leaf
    from store.outbox import claim_pending, create_batch, leaf_proof
    from store.recording import EventRow, record_events
    from tests.utils.store_factories import hashed_event

    def rows(n: int, start: int) -> list[EventRow]:
        return [
            {
                "event": hashed_event(
                    event_hash=bytes([start + i]) * 32,
                    event_json=f'{{"n":{i}}}',
                    biz_step=None,
                    event_time_ms=i,
                ),
                "recorded_by": None,
            }
            for i in range(n)
        ]

    upgrade(empty_db_url, "0006_leaf_hash_not_unique")
    engine = make_engine(empty_db_url)
    try:
        # A batch as stored before 0007: proofs on the leaves (written as that schema had them).
        with engine.begin() as conn:
            for i in range(3):
                conn.execute(
                    sa.text(
                        "INSERT INTO events (kind, event_hash, event_json, event_type,"
                        " event_time_ms, created_at) VALUES (0, :hash, :json, 'ObjectEvent', :i,"
                        " CURRENT_TIMESTAMP)"
                    ),
                    {"hash": bytes([1 + i]) * 32, "json": f'{{"n":{i}}}', "i": i},
                )
                conn.execute(
                    sa.text(
                        "INSERT INTO leaves (event_id, salt, leaf_hash, created_at) VALUES"
                        " ((SELECT id FROM events WHERE event_time_ms = :i), :salt, :leaf,"
                        " CURRENT_TIMESTAMP)"
                    ),
                    {"i": i, "salt": bytes([40 + i]) * 32, "leaf": bytes([80 + i]) * 32},
                )
            leaves = conn.execute(sa.text("SELECT id, leaf_hash FROM leaves ORDER BY id")).all()
            old = MerkleTree.build([bytes(h) for _, h in leaves])
            conn.execute(
                sa.text(
                    "INSERT INTO anchor_batches (root, leaf_count, status, created_at)"
                    " VALUES (:root, 3, 'pending', CURRENT_TIMESTAMP)"
                ),
                {"root": old.root},
            )
            for index, (leaf_id, _) in enumerate(leaves):
                conn.execute(
                    sa.text(
                        "UPDATE leaves SET batch_id = (SELECT id FROM anchor_batches),"
                        " leaf_index = :i, proof = :p WHERE id = :id"
                    ),
                    {
                        "i": index,
                        "id": leaf_id,
                        "p": json.dumps(["0x" + n.hex() for n in old.proof_at(index)]),
                    },
                )
        upgrade(empty_db_url)
        with transaction(session_factory(engine)) as session:
            for index, leaf in enumerate(session.scalars(sa.select(Leaf).order_by(Leaf.id))):
                expected = ["0x" + n.hex() for n in old.proof_at(index)]
                assert leaf_proof(leaf, leaf.batch) == expected
        engine.dispose()
        downgrade(empty_db_url, "0006_leaf_hash_not_unique")  # no tree kept yet: allowed
        upgrade(empty_db_url)
        with transaction(session_factory(engine)) as session:
            record_events(session, rows(2, 9))
            pending = claim_pending(session, 10)
            create_batch(session, MerkleTree.build([p.leaf_hash for p in pending]), pending)
        engine.dispose()
        with pytest.raises(RuntimeError, match="would lose them"):
            downgrade(empty_db_url, "0006_leaf_hash_not_unique")
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(AnchorBatch)).scalar() == 2
    finally:
        engine.dispose()


def test_0015_keeps_every_stored_key_working(empty_db_url: str) -> None:
    """Keys issued before expiry and disabling existed stay live, never expiring."""
    from store.principals import hash_api_key, principal_for_key

    upgrade(empty_db_url, "0014_chain_logs_event_index")
    engine = make_engine(empty_db_url)
    secret = "ct_" + "k" * 43
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO principals (name, role, created_at)"
                    " VALUES ('old carrier', 'carrier', CURRENT_TIMESTAMP)"
                )
            )
            pid = conn.execute(sa.text("SELECT id FROM principals")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO api_keys (principal_id, key_hash, label, created_at)"
                    " VALUES (:pid, :hash, 'old', CURRENT_TIMESTAMP)"
                ),
                {"pid": pid, "hash": hash_api_key(secret)},
            )
        upgrade(empty_db_url)
        with session_factory(engine)() as session:
            principal = principal_for_key(session, secret)
            assert principal is not None and principal.id == pid
            assert principal.disabled_at is None
            (key,) = principal.api_keys
            assert key.expires_at is None and key.last_used_at is None
        downgrade(empty_db_url, "0014_chain_logs_event_index")
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM api_keys")).scalar_one() == 1
    finally:
        engine.dispose()


def test_0017_adds_capture_jobs_and_capturers_beside_stored_events(empty_db_url: str) -> None:
    """A 0016 store keeps its events; 0017's tables take jobs and further capturers; the
    downgrade drops only them."""
    upgrade(empty_db_url, "0016_admin_log_erasures")
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO principals (name, role, created_at)"
                    " VALUES ('partner', 'carrier', CURRENT_TIMESTAMP),"
                    " ('other', 'buyer', CURRENT_TIMESTAMP)"
                )
            )
            first, second = conn.execute(sa.text("SELECT id FROM principals ORDER BY id")).scalars()
            conn.execute(
                sa.text(
                    "INSERT INTO events (kind, event_hash, event_json, event_type, event_time_ms,"
                    " recorded_by, created_at) VALUES (0, :hash, '{}', 'ObjectEvent', 1, :pid,"
                    " CURRENT_TIMESTAMP)"
                ),
                {"hash": b"\x01" * 32, "pid": first},
            )
            event = conn.execute(sa.text("SELECT id FROM events")).scalar_one()
        upgrade(empty_db_url)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO capture_jobs (capture_id, principal_id, created_at, running,"
                    " success, error_behaviour, event_count, errors)"
                    " VALUES ('id1', :pid, CURRENT_TIMESTAMP, false, true, 'rollback', 1, '[]')"
                ),
                {"pid": first},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO event_capturers (event_id, principal_id, captured_at)"
                    " VALUES (:event, :pid, CURRENT_TIMESTAMP)"
                ),
                {"event": event, "pid": second},
            )
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO event_capturers (event_id, principal_id, captured_at)"
                    " VALUES (:event, :pid, CURRENT_TIMESTAMP)"
                ),
                {"event": event, "pid": second},
            )
        downgrade(empty_db_url, "0016_admin_log_erasures")
        assert not {"capture_jobs", "event_capturers"} & _tables(empty_db_url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == 1
    finally:
        engine.dispose()


def test_0018_indexes_the_query_filters_and_keeps_every_event(empty_db_url: str) -> None:
    """A 0017 store's events stay; the EPCIS query's filters then read an index, not the table."""
    upgrade(empty_db_url, "0017_epcis_capture")
    engine = make_engine(empty_db_url)
    names = {"ix_events_created_at", "ix_events_biz_step_event_time_ms", "ix_events_recorded_by"}
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO events (kind, event_hash, event_json, event_type, biz_step,"
                    " event_time_ms, created_at) VALUES (0, :hash, '{}', 'ObjectEvent',"
                    " 'shipping', 5, CURRENT_TIMESTAMP)"
                ),
                {"hash": b"\x02" * 32},
            )
        upgrade(empty_db_url)
        indexes = {ix["name"] for ix in sa.inspect(engine).get_indexes("events")}
        assert names <= indexes
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == 1
            if engine.dialect.name == "sqlite":
                plan = " ".join(
                    str(row[-1])
                    for row in conn.execute(
                        sa.text(
                            "EXPLAIN QUERY PLAN SELECT id FROM events"
                            " WHERE biz_step = 'shipping' AND event_time_ms >= 1"
                        )
                    )
                )
                assert "ix_events_biz_step_event_time_ms" in plan, plan
        downgrade(empty_db_url, "0017_epcis_capture")
        assert not names & {ix["name"] for ix in sa.inspect(engine).get_indexes("events")}
    finally:
        engine.dispose()


def test_0019_items_take_a_lot_and_expiry_and_old_items_keep_none(empty_db_url: str) -> None:
    """Items of the previous revision survive with no lot; new ones record lot and expiry."""
    import datetime as dt

    from alembic.script import ScriptDirectory

    from store.db import alembic_config
    from store.models import Item

    script = ScriptDirectory.from_config(alembic_config(empty_db_url))
    previous = script.get_revision("0019_item_lot_expiry").down_revision
    assert isinstance(previous, str)
    upgrade(empty_db_url, previous)
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO principals (name, role, created_at)"
                    " VALUES ('brand', 'brand', CURRENT_TIMESTAMP)"
                )
            )
            pid = conn.execute(sa.text("SELECT id FROM principals")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO brands (principal_id, name, company_prefix, created_at)"
                    " VALUES (:pid, 'Brand', '0614141', CURRENT_TIMESTAMP)"
                ),
                {"pid": pid},
            )
            brand = conn.execute(sa.text("SELECT id FROM brands")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO products (brand_id, gtin, name, created_at)"
                    " VALUES (:brand, '00614141123452', 'Tea', CURRENT_TIMESTAMP)"
                ),
                {"brand": brand},
            )
            product = conn.execute(sa.text("SELECT id FROM products")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO events (kind, event_hash, event_json, event_type, event_time_ms,"
                    " created_at) VALUES (0, :hash, '{}', 'ObjectEvent', 1, CURRENT_TIMESTAMP)"
                ),
                {"hash": b"\x03" * 32},
            )
            event = conn.execute(sa.text("SELECT id FROM events")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO items (product_id, serial, commission_event_id, created_at)"
                    " VALUES (:product, 'OLD1', :event, CURRENT_TIMESTAMP)"
                ),
                {"product": product, "event": event},
            )
            item = conn.execute(sa.text("SELECT id FROM items")).scalar_one()
            # An event naming the item: a table copy of items would fail on it (foreign keys).
            conn.execute(
                sa.text("INSERT INTO event_items (event_id, item_id) VALUES (:event, :item)"),
                {"event": event, "item": item},
            )
        upgrade(empty_db_url)
        with session_factory(engine)() as session:
            (old,) = session.scalars(sa.select(Item))
            assert (old.serial, old.lot, old.expiry) == ("OLD1", None, None)
            assert old.commission_event_id == event
            session.add(
                Item(product_id=product, serial="NEW1", lot="LOT-7", expiry=dt.date(2027, 3, 31))
            )
            session.commit()
        with session_factory(engine)() as session:
            new = session.scalars(sa.select(Item).where(Item.serial == "NEW1")).one()
            assert (new.lot, new.expiry) == ("LOT-7", dt.date(2027, 3, 31))
        downgrade(empty_db_url, previous)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM items")).scalar_one() == 2
            assert conn.execute(sa.text("SELECT count(*) FROM event_items")).scalar_one() == 1
            columns = {c["name"] for c in sa.inspect(conn).get_columns("items")}
            assert not {"lot", "expiry"} & columns
    finally:
        engine.dispose()


def test_0021_adds_locations_beside_a_populated_store(empty_db_url: str) -> None:
    """A store at the previous revision keeps its principals and events; the new table takes a
    place owned by one of them, and a downgrade drops only the table."""
    script = ScriptDirectory.from_config(alembic_config(empty_db_url))
    previous = script.get_revision("0021_locations").down_revision
    assert isinstance(previous, str)
    upgrade(empty_db_url, previous)
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO principals (name, role, created_at) "
                    "VALUES ('owner', 'carrier', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO events (kind, event_hash, event_json, event_type, biz_step,"
                    " event_time_ms, created_at) VALUES (0, :hash, '{}', 'ObjectEvent',"
                    " 'shipping', 5, CURRENT_TIMESTAMP)"
                ),
                {"hash": b"\x03" * 32},
            )
        upgrade(empty_db_url)
        with engine.begin() as conn:
            owner = conn.execute(sa.text("SELECT id FROM principals")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO locations (location_id, gln, name, lat_centi, lon_centi, public,"
                    " owner_principal_id, created_at, updated_at) VALUES ('0812345000014',"
                    " '0812345000014', 'Dock', 5190, 447, :public, :owner, CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP)"
                ),
                {"owner": owner, "public": True},
            )
            assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT name FROM locations")).scalar_one() == "Dock"
        downgrade(empty_db_url, previous)
        assert "locations" not in _tables(empty_db_url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM principals")).scalar_one() == 1
    finally:
        engine.dispose()


_EPC_INDEX = "0022_event_epc_index"


def test_0022_backfills_the_epc_index_from_every_stored_event(empty_db_url: str) -> None:
    """A store at the previous revision keeps its events; 0022 indexes the EPCs each names, by
    field (erased and non-object JSON name none, an over-long value is left to the text
    pre-filter); the downgrade drops only the index."""
    previous = (
        ScriptDirectory.from_config(alembic_config(empty_db_url))
        .get_revision(_EPC_INDEX)
        .down_revision
    )
    assert isinstance(previous, str)
    upgrade(empty_db_url, previous)
    a, b = "urn:epc:id:sgtin:0614141.107346.1", "urn:epc:id:sgtin:0614141.107346.2"
    parent = "urn:epc:id:sscc:0614141.1234567890"
    bodies = [
        json.dumps({"type": "ObjectEvent", "epcList": [a, a, b]}),
        json.dumps({"type": "AggregationEvent", "parentID": parent, "childEPCs": [b]}),
        json.dumps({"type": "TransformationEvent", "inputEPCList": [a], "outputEPCList": [b]}),
        json.dumps({"type": "ObjectEvent", "epcList": ["urn:epc:id:sgtin:1." + "9" * 600]}),
        "",  # an erased event
        "[]",
    ]
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            for n, body in enumerate(bodies):
                conn.execute(
                    sa.text(
                        "INSERT INTO events (kind, event_hash, event_json, event_type,"
                        " event_time_ms, created_at) VALUES (0, :hash, :json, 'ObjectEvent', 1,"
                        " CURRENT_TIMESTAMP)"
                    ),
                    {"hash": bytes([n + 1]) * 32, "json": body},
                )
            ids = list(conn.execute(sa.text("SELECT id FROM events ORDER BY id")).scalars())
        upgrade(empty_db_url, _EPC_INDEX)
        with engine.connect() as conn:
            rows = set(conn.execute(sa.text("SELECT epc, field, event_id FROM event_epcs")).all())
            assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == len(bodies)
        assert {tuple(row) for row in rows} == {
            (a, 0, ids[0]),
            (b, 0, ids[0]),
            (parent, 1, ids[1]),
            (b, 0, ids[1]),
            (a, 2, ids[2]),
            (b, 3, ids[2]),
        }
        downgrade(empty_db_url, previous)
        assert "event_epcs" not in _tables(empty_db_url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == len(bodies)
    finally:
        engine.dispose()


_LINK_REGISTRY = "0024_link_registry"


def test_0024_adds_the_link_registry_beside_a_populated_store(empty_db_url: str) -> None:
    """A store at the previous revision keeps its brands and products; the new table takes a
    brand's link; a downgrade drops only the table."""
    previous = (
        ScriptDirectory.from_config(alembic_config(empty_db_url))
        .get_revision(_LINK_REGISTRY)
        .down_revision
    )
    assert isinstance(previous, str)
    upgrade(empty_db_url, previous)
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO principals (name, role, created_at) "
                    "VALUES ('acme', 'brand', CURRENT_TIMESTAMP)"
                )
            )
            principal = conn.execute(sa.text("SELECT id FROM principals")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO brands (principal_id, company_prefix, name, created_at)"
                    " VALUES (:p, '0614141', 'Acme', CURRENT_TIMESTAMP)"
                ),
                {"p": principal},
            )
            brand = conn.execute(sa.text("SELECT id FROM brands")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO products (brand_id, gtin, name, created_at)"
                    " VALUES (:b, '00614141123452', 'Cold brew', CURRENT_TIMESTAMP)"
                ),
                {"b": brand},
            )
        upgrade(empty_db_url, _LINK_REGISTRY)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO resolver_links (brand_id, gtin, lot, serial, link_type, href,"
                    " title, hreflang, media_type, created_at) VALUES (:b, '00614141123452',"
                    " NULL, 'A1', 'gs1:pip', 'https://acme.example/', 'Acme', :langs,"
                    " 'text/html', CURRENT_TIMESTAMP)"
                ),
                {"b": brand, "langs": json.dumps(["en", "de"])},
            )
            row = conn.execute(sa.text("SELECT serial, hreflang FROM resolver_links")).one()
            langs = row[1] if isinstance(row[1], list) else json.loads(row[1])
            assert (row[0], langs) == ("A1", ["en", "de"])
            assert conn.execute(sa.text("SELECT name FROM products")).scalar_one() == "Cold brew"
        downgrade(empty_db_url, previous)
        assert "resolver_links" not in _tables(empty_db_url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM brands")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM products")).scalar_one() == 1
    finally:
        engine.dispose()


_CONTAINER = "0026_shipment_container"


def test_0026_gives_new_shipments_a_container_and_old_ones_none(empty_db_url: str) -> None:
    """A shipment of the previous revision (with its items, events and readings) survives with
    no container; new ones store theirs, once each; the downgrade forgets containers only."""
    from store.errors import StoreValueError
    from store.models import Shipment

    previous = (
        ScriptDirectory.from_config(alembic_config(empty_db_url))
        .get_revision(_CONTAINER)
        .down_revision
    )
    assert isinstance(previous, str)
    upgrade(empty_db_url, previous)
    engine = make_engine(empty_db_url)
    old_id, container = "0x" + "11" * 32, "urn:uuid:3f2b8c1e-9d4a-4e7b-a6c5-0b1d2e3f4a5b"
    address = "0x" + "ab" * 20
    try:
        with engine.begin() as conn:
            for name, role in (("carrier", "carrier"), ("buyer", "buyer"), ("brand", "brand")):
                conn.execute(
                    sa.text(
                        "INSERT INTO principals (name, role, created_at)"
                        " VALUES (:name, :role, CURRENT_TIMESTAMP)"
                    ),
                    {"name": name, "role": role},
                )
            pids = dict(conn.execute(sa.text("SELECT name, id FROM principals")).all())
            conn.execute(
                sa.text(
                    "INSERT INTO brands (principal_id, name, company_prefix, created_at)"
                    " VALUES (:pid, 'Brand', '0614141', CURRENT_TIMESTAMP)"
                ),
                {"pid": pids["brand"]},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO products (brand_id, gtin, name, created_at) VALUES"
                    " ((SELECT id FROM brands), '00614141123452', 'Tea', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO items (product_id, serial, created_at)"
                    " VALUES ((SELECT id FROM products), 'OLD1', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO shipments (shipment_id, carrier_principal_id,"
                    " consignee_principal_id, payee_address, buyer_address, terms_json,"
                    " terms_hash, origin, destination, status, escrow_version, custody_required,"
                    " created_at) VALUES (:sid, :carrier, :buyer, :addr, :addr, '{}', :sid, '',"
                    " '', 'shipping', 1, false, CURRENT_TIMESTAMP)"
                ),
                {
                    "sid": old_id,
                    "carrier": pids["carrier"],
                    "buyer": pids["buyer"],
                    "addr": address,
                },
            )
            shipment = conn.execute(sa.text("SELECT id FROM shipments")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO shipment_items (shipment_id, item_id)"
                    " VALUES (:shipment, (SELECT id FROM items))"
                ),
                {"shipment": shipment},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO events (kind, event_hash, event_json, event_type, event_time_ms,"
                    " shipment_id, created_at) VALUES (0, :hash, '{}', 'ObjectEvent', 1,"
                    " :shipment, CURRENT_TIMESTAMP)"
                ),
                {"hash": b"\x05" * 32, "shipment": shipment},
            )
        upgrade(empty_db_url, _CONTAINER)
        with session_factory(engine)() as session:
            (old,) = session.scalars(sa.select(Shipment))
            assert (old.shipment_id, old.container_epc) == (old_id, None)
            assert [item.serial for item in old.items] == ["OLD1"]
            old.container_epc = container  # a new shipment's container, stored
            session.commit()
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT container_epc FROM shipments")).scalar_one() == (
                container
            )
            assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == 1
        with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
            # One shipment per container.
            conn.execute(
                sa.text(
                    "INSERT INTO shipments (shipment_id, carrier_principal_id,"
                    " consignee_principal_id, payee_address, buyer_address, terms_json,"
                    " terms_hash, origin, destination, status, escrow_version,"
                    " custody_required, container_epc, created_at) VALUES (:sid, :carrier,"
                    " :buyer, :addr, :addr, '{}', :sid, '', '', 'created', 1, true, :container,"
                    " CURRENT_TIMESTAMP)"
                ),
                {
                    "sid": "0x" + "22" * 32,
                    "carrier": pids["carrier"],
                    "buyer": pids["buyer"],
                    "addr": address,
                    "container": container,
                },
            )
        with pytest.raises(StoreValueError, match="container_epc"):
            Shipment(container_epc="urn:chaintrace:shipment:" + old_id)
        downgrade(empty_db_url, previous)
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("shipments")}
            assert "container_epc" not in columns
            assert conn.execute(sa.text("SELECT shipment_id FROM shipments")).all() == [(old_id,)]
            assert conn.execute(sa.text("SELECT count(*) FROM shipment_items")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == 1
    finally:
        engine.dispose()


def test_0025_adds_code_reports_beside_a_populated_store(empty_db_url: str) -> None:
    """A store at the previous revision keeps its brands and items; the new tables take a
    brand's report and its count, and a downgrade drops only them."""
    script = ScriptDirectory.from_config(alembic_config(empty_db_url))
    previous = script.get_revision("0025_code_reports").down_revision
    assert isinstance(previous, str)
    upgrade(empty_db_url, previous)
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO principals (name, role, created_at)"
                    " VALUES ('brand', 'brand', CURRENT_TIMESTAMP)"
                )
            )
            pid = conn.execute(sa.text("SELECT id FROM principals")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO brands (principal_id, name, company_prefix, created_at)"
                    " VALUES (:pid, 'Brand', '0614141', CURRENT_TIMESTAMP)"
                ),
                {"pid": pid},
            )
            brand = conn.execute(sa.text("SELECT id FROM brands")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO products (brand_id, gtin, name, created_at)"
                    " VALUES (:brand, '00614141123452', 'Tea', CURRENT_TIMESTAMP)"
                ),
                {"brand": brand},
            )
            product = conn.execute(sa.text("SELECT id FROM products")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO items (product_id, serial, lot, created_at)"
                    " VALUES (:product, 'OLD1', 'L1', CURRENT_TIMESTAMP)"
                ),
                {"product": product},
            )
        upgrade(empty_db_url)
        assert _diff(empty_db_url, Base.metadata) == []
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO code_reports (brand_id, gtin, serial, lot, link, comment,"
                    " client_hash, reported_at) VALUES (:brand, '00614141123452', 'FAKE', NULL,"
                    " '/01/00614141123452/21/FAKE', 'odd label', :hash, CURRENT_TIMESTAMP)"
                ),
                {"brand": brand, "hash": "ab" * 16},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO code_report_counts (gtin, serial, brand_id, reports,"
                    " first_reported_at, last_reported_at) VALUES ('00614141123452', 'FAKE',"
                    " :brand, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"brand": brand},
            )
            # One report per client and code: the dedup the inbox's bound relies on.
            with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
                conn.execute(
                    sa.text(
                        "INSERT INTO code_reports (brand_id, gtin, serial, link, client_hash,"
                        " reported_at) VALUES (:brand, '00614141123452', 'FAKE', '/x', :hash,"
                        " CURRENT_TIMESTAMP)"
                    ),
                    {"brand": brand, "hash": "ab" * 16},
                )
            assert conn.execute(sa.text("SELECT serial, lot FROM items")).one() == ("OLD1", "L1")
        downgrade(empty_db_url, previous)
        assert not {"code_reports", "code_report_counts"} & _tables(empty_db_url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM items")).scalar_one() == 1
    finally:
        engine.dispose()


_LEAF_KINDS = "0023_leaf_kinds"


def test_0023_gives_every_stored_leaf_its_event_kind_and_keys_leaves_by_kind_and_epc(
    empty_db_url: str,
) -> None:
    """A store at the previous revision keeps its leaves (an event's and an errorDeclaration's,
    one batched): each becomes its event's own leaf (kind = the event's kind, epc ''); then a
    kind 2 leaf per EPC fits beside it, a second own leaf or a repeated (event, kind, epc) does
    not; the downgrade refuses while kind 2 leaves exist."""
    previous = (
        ScriptDirectory.from_config(alembic_config(empty_db_url))
        .get_revision(_LEAF_KINDS)
        .down_revision
    )
    assert previous == _EPC_INDEX
    upgrade(empty_db_url, previous)
    engine = make_engine(empty_db_url)
    insert_event = sa.text(
        "INSERT INTO events (kind, event_hash, event_json, event_type, event_time_ms, created_at)"
        " VALUES (:kind, :hash, '{}', 'ObjectEvent', 1, CURRENT_TIMESTAMP)"
    )
    insert_leaf = sa.text(
        "INSERT INTO leaves (event_id, salt, leaf_hash, batch_id, leaf_index, created_at)"
        " VALUES (:event, :salt, :leaf, :batch, :index, CURRENT_TIMESTAMP)"
    )
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO anchor_batches (root, leaf_count, status, anchor_version,"
                    " created_at) VALUES (:root, 1, 'final', 1, CURRENT_TIMESTAMP)"
                ),
                {"root": b"\x09" * 32},
            )
            batch = conn.execute(sa.text("SELECT id FROM anchor_batches")).scalar_one()
            for n, kind in enumerate((0, 1)):
                conn.execute(insert_event, {"kind": kind, "hash": bytes([n + 1]) * 32})
            ids = list(conn.execute(sa.text("SELECT id FROM events ORDER BY id")).scalars())
            for n, event_id in enumerate(ids):
                conn.execute(
                    insert_leaf,
                    {
                        "event": event_id,
                        "salt": bytes([n + 5]) * 32,
                        "leaf": bytes([n + 7]) * 32,
                        "batch": batch if n == 0 else None,
                        "index": 0 if n == 0 else None,
                    },
                )
        upgrade(empty_db_url, _LEAF_KINDS)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT event_id, kind, epc, projection_json, salt, leaf_hash, batch_id"
                    " FROM leaves ORDER BY id"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            (ids[0], 0, "", None, b"\x05" * 32, b"\x07" * 32, batch),
            (ids[1], 1, "", None, b"\x06" * 32, b"\x08" * 32, None),
        ]
        insert_member = sa.text(
            "INSERT INTO leaves (event_id, kind, epc, projection_json, salt, leaf_hash,"
            " created_at) VALUES (:event, :kind, :epc, '{}', :salt, :leaf, CURRENT_TIMESTAMP)"
        )
        member = {"event": ids[0], "kind": 2, "salt": b"\x0a" * 32, "leaf": b"\x0b" * 32}
        with engine.begin() as conn:
            conn.execute(insert_member, {**member, "epc": "urn:epc:id:sgtin:0614141.107346.1"})
            conn.execute(insert_member, {**member, "epc": "urn:epc:id:sgtin:0614141.107346.2"})
        for duplicate in (
            {**member, "epc": "urn:epc:id:sgtin:0614141.107346.1"},
            {**member, "kind": 0, "epc": ""},
        ):
            with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
                conn.execute(insert_member, duplicate)
        with pytest.raises(RuntimeError, match="2 kind 2 leaves"):
            downgrade(empty_db_url, previous)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM leaves WHERE kind = 2"))
        downgrade(empty_db_url, previous)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM leaves")).scalar_one() == 2
            with pytest.raises(sa.exc.IntegrityError):
                conn.execute(
                    insert_leaf,
                    {
                        "event": ids[0],
                        "salt": b"1" * 32,
                        "leaf": b"2" * 32,
                        "batch": None,
                        "index": None,
                    },
                )
    finally:
        engine.dispose()


def test_0027_adds_recalls_beside_a_populated_store(empty_db_url: str) -> None:
    """A store at the previous revision keeps its principals; the new table takes a recall's
    subject, and a downgrade drops only it."""
    script = ScriptDirectory.from_config(alembic_config(empty_db_url))
    previous = script.get_revision("0027_recalls").down_revision
    assert isinstance(previous, str)
    upgrade(empty_db_url, previous)
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO principals (name, role, created_at)"
                    " VALUES ('brand', 'brand', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO events (kind, event_hash, event_json, event_type,"
                    " event_time_ms, created_at) VALUES (0, :h, '{}', 'ObjectEvent', 1,"
                    " CURRENT_TIMESTAMP)"
                ),
                {"h": b"\x01" * 32},
            )
        upgrade(empty_db_url)
        assert _diff(empty_db_url, Base.metadata) == []
        with engine.begin() as conn:
            pid = conn.execute(sa.text("SELECT id FROM principals")).scalar_one()
            event = conn.execute(sa.text("SELECT id FROM events")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO recalls (event_id, gtin, serial, lot, recalled_at_ms,"
                    " recorded_by) VALUES (:e, '00614141077779', NULL, 'L1', 1000, :p)"
                ),
                {"e": event, "p": pid},
            )
        downgrade(empty_db_url, previous)
        with engine.begin() as conn:
            assert "recalls" not in sa.inspect(conn).get_table_names()
            assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM principals")).scalar_one() == 1
    finally:
        engine.dispose()
