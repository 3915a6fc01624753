"""The mapped classes; importing this package registers every table on Base.metadata."""

from store.models.base import Base
from store.models.capture import CaptureJob, EventCapturer
from store.models.chain_view import EscrowView as EscrowView  # + the follower's other tables
from store.models.commissioning import CommissioningDraft
from store.models.dead_letters import DeadLetter as DeadLetter
from store.models.events import AnchorBatch, Event, Leaf, event_epcs, event_items
from store.models.identity import ApiKey, Brand, Device, Item, Principal, Product
from store.models.leases import Lease as Lease
from store.models.links import ResolverLink
from store.models.locations import Location
from store.models.operations import AdminLogEntry, EventErasure
from store.models.readings import Reading
from store.models.recalls import Recall
from store.models.reports import CodeReport, CodeReportCount
from store.models.settings import Setting
from store.models.shipments import Shipment, custody_approvals, shipment_devices, shipment_items
from store.models.subscriptions import Delivery, NamedQuery, Subscription
from store.models.types import BatchStatus, EventKind, Role, ShipmentStatus

__all__ = [
    "AdminLogEntry",
    "AnchorBatch",
    "ApiKey",
    "Base",
    "BatchStatus",
    "Brand",
    "CaptureJob",
    "CodeReport",
    "CodeReportCount",
    "CommissioningDraft",
    "Delivery",
    "Device",
    "Event",
    "EventCapturer",
    "EventErasure",
    "EventKind",
    "Item",
    "Leaf",
    "Location",
    "NamedQuery",
    "Principal",
    "Product",
    "Reading",
    "Recall",
    "ResolverLink",
    "Role",
    "Setting",
    "Shipment",
    "ShipmentStatus",
    "Subscription",
    "custody_approvals",
    "event_epcs",
    "event_items",
    "shipment_devices",
    "shipment_items",
]
