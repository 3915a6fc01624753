"""CBV 2.0 vocabularies and the EPCIS 2.0 JSON-LD context, as data (no context is ever fetched).

The model mirrors https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld: every term with
its IRI, the type coercion of its value (@id or @vocab) and its property-scoped context. The hash
needs it to expand bare CBV names ("shipping") the way a JSON-LD processor does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

EPCIS = "https://ref.gs1.org/epcis/"
CBV = "https://ref.gs1.org/cbv/"
GS1 = "https://gs1.org/voc/"

# Only expanded values with these prefixes take part in bare-string replacement (as the reference).
WEB_VOCABULARY_PREFIXES = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")

# Old CBV 1.x URN prefixes and their CBV 2.0 web-vocabulary replacements, applied to every value.
URN_TO_WEB_VOCABULARY = (
    ("urn:epcglobal:cbv:bizstep:", CBV + "BizStep-"),
    ("urn:epcglobal:cbv:disp:", CBV + "Disp-"),
    ("urn:epcglobal:cbv:btt:", CBV + "BTT-"),
    ("urn:epcglobal:cbv:sdt:", CBV + "SDT-"),
    ("urn:epcglobal:cbv:er:", CBV + "ER-"),
)

EVENT_TYPES = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }
)


def _words(text: str) -> tuple[str, ...]:
    """A vocabulary written as words separated by white space."""
    return tuple(text.split())


BIZ_STEPS = _words(
    """
    accepting arriving assembling collecting commissioning consigning creating_class_instance
    cycle_counting decommissioning departing destroying disassembling dispensing encoding
    entering_exiting holding inspecting installing killing loading other packing picking
    receiving removing repackaging repairing replacing reserving retail_selling sampling
    sensor_reporting shipping staging_outbound stock_taking stocking storing transporting
    unloading unpacking void_shipping
    """
)
DISPOSITIONS = _words(
    """
    active available completeness_verified completeness_inferred conformant container_closed
    container_open damaged destroyed dispensed disposed encoded expired in_progress in_transit
    inactive mismatch_instance mismatch_class mismatch_quantity needs_replacement
    no_pedigree_match non_conformant non_sellable_other partially_dispensed recalled reserved
    retail_sold returned sellable_accessible sellable_not_accessible stolen unavailable unknown
    """
)
BIZ_TRANSACTION_TYPES = _words(
    """
    bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt
    """
)
SOURCE_DESTINATION_TYPES = ("owning_party", "possessing_party", "location")
ERROR_REASONS = ("did_not_occur", "incorrect_data")
MEASUREMENT_TYPES = _words(
    """
    AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Radioactivity Altitude
    AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration AngularMomentum
    AngularVelocity Area Capacitance Conductance Conductivity Count Density Dimensionless
    DoseEquivalent DoseEquivalentRate DynamicViscosity ElectricCharge ElectricCurrent
    ElectricCurrentDensity ElectricFieldStrength Energy Exposure Force Frequency Illuminance
    Inductance Irradiance KinematicViscosity Length LinearMomentum Luminance LuminousFlux
    LuminousIntensity MagneticFlux MagneticFluxDensity MagneticVectorPotential Mass
    MassConcentration MassFlowRate MassPerAreaTime MemoryCapacity MolalityOfSolute MolarEnergy
    MolarMass MolarVolume Power Pressure RadiantFlux RadiantIntensity RelativeHumidity
    Resistance Resistivity SolidAngle SpecificVolume Speed SurfaceDensity SurfaceTension
    Temperature Time Torque Voltage Volume VolumeFlowRate VolumeFraction VolumetricFlux
    Wavenumber
    """
)
SENSOR_ALERTS = ("ALARM_CONDITION", "ERROR_CONDITION")
COMPONENTS = _words(
    """
    x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle easting
    northing latitude longitude altitude
    """
)


@dataclass(frozen=True)
class Term:
    """One JSON-LD term: its IRI (or keyword), value coercion and property-scoped context."""

    iri: str
    coerce: str | None = None
    scope: Mapping[str, Term] = field(default_factory=dict)


def _names(base: str, names: Iterable[str]) -> dict[str, Term]:
    return {name: Term(base + name) for name in names}


def _epcis(name: str, coerce: str | None = None, scope: Mapping[str, Term] | None = None) -> Term:
    return Term(EPCIS + name, coerce, scope or {})


_ID = "@id"
_VOCAB = "@vocab"

PREFIXES: Mapping[str, str] = {
    "epcis": EPCIS,
    "cbv": CBV,
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": GS1,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}

_DISPOSITION_TERMS = _names(CBV + "Disp-", DISPOSITIONS)
_SOURCE_DESTINATION_TYPE = _epcis(
    "sourceOrDestinationType", _VOCAB, _names(CBV + "SDT-", SOURCE_DESTINATION_TYPES)
)

_SENSOR_METADATA_SCOPE = {
    "startTime": _epcis("startTime"),
    "endTime": _epcis("endTime"),
    "bizRules": _epcis("bizRules", _ID),
}
_SENSOR_REPORT_SCOPE = {
    "type": _epcis("measurementType", _VOCAB, _names(GS1, MEASUREMENT_TYPES)),
    "exception": _epcis("exception", _VOCAB, _names(GS1, SENSOR_ALERTS)),
    "coordinateReferenceSystem": _epcis("coordinateReferenceSystem", _ID),
    "microorganism": _epcis("microorganism", _ID),
    "chemicalSubstance": _epcis("chemicalSubstance", _ID),
    "time": _epcis("time"),
    "value": _epcis("value"),
    "component": _epcis("component", _VOCAB, _names(CBV + "Comp-", COMPONENTS)),
    "stringValue": _epcis("stringValue"),
    "booleanValue": _epcis("booleanValue"),
    "hexBinaryValue": _epcis("hexBinaryValue"),
    "uriValue": _epcis("uriValue", _ID),
    "minValue": _epcis("minValue"),
    "maxValue": _epcis("maxValue"),
    "meanValue": _epcis("meanValue"),
    "sDev": _epcis("sDev"),
    "percRank": _epcis("percRank"),
    "percValue": _epcis("percValue"),
}
_SENSOR_ELEMENT_SCOPE = {
    "deviceID": _epcis("deviceID", _ID),
    "deviceMetadata": _epcis("deviceMetadata", _ID),
    "rawData": _epcis("rawData", _ID),
    "dataProcessingMethod": _epcis("dataProcessingMethod", _ID),
    "time": _epcis("time"),
    "type": Term("@type"),
    "sensorMetadata": _epcis("sensorMetadata", None, _SENSOR_METADATA_SCOPE),
    "sensorReport": _epcis("sensorReport", None, _SENSOR_REPORT_SCOPE),
}

# Terms the EPCIS context defines at top level; the names of the event types, document parts
# and keyword aliases are included because a JSON-LD processor resolves @vocab values with them.
CONTEXT: Mapping[str, Term] = {
    **{prefix: Term(iri) for prefix, iri in PREFIXES.items()},
    "id": Term("@id"),
    "type": Term("@type"),
    "baseURL": Term("@base"),
    "eventID": Term("@id"),
    **{name: _epcis(name) for name in sorted(EVENT_TYPES)},
    "Collection": _epcis("Collection"),
    "member": Term(PREFIXES["rdfs"] + "member", _ID),
    "eventTime": _epcis("eventTime"),
    "recordTime": _epcis("recordTime"),
    "eventTimeZoneOffset": _epcis("eventTimeZoneOffset"),
    "action": _epcis("action"),
    "certificationInfo": _epcis("certificationInfo", _ID),
    "bizStep": _epcis("bizStep", _VOCAB, _names(CBV + "BizStep-", BIZ_STEPS)),
    "disposition": _epcis("disposition", _VOCAB, _DISPOSITION_TERMS),
    "bizLocation": _epcis("bizLocation", _ID),
    "readPoint": _epcis("readPoint", _ID),
    "transformationID": _epcis("transformationID", _ID),
    "epcList": _epcis("epcList", _ID),
    "sourceList": _epcis(
        "sourceList",
        None,
        {"source": _epcis("sourceOrDestination", _ID), "type": _SOURCE_DESTINATION_TYPE},
    ),
    "destinationList": _epcis(
        "destinationList",
        None,
        {"destination": _epcis("sourceOrDestination", _ID), "type": _SOURCE_DESTINATION_TYPE},
    ),
    "persistentDisposition": _epcis(
        "persistentDisposition",
        None,
        {
            **_DISPOSITION_TERMS,
            "set": _epcis("set", _VOCAB),
            "unset": _epcis("unset", _VOCAB),
        },
    ),
    "quantity": _epcis("quantity"),
    "epcClass": _epcis("epcClass", _ID),
    "uom": _epcis("uom"),
    "quantityList": _epcis("quantityList"),
    "bizTransactionList": _epcis(
        "bizTransactionList",
        None,
        {
            "bizTransaction": Term("@id"),
            "type": _epcis(
                "bizTransactionType", _VOCAB, _names(CBV + "BTT-", BIZ_TRANSACTION_TYPES)
            ),
        },
    ),
    "parentID": _epcis("parentID", _ID),
    "childEPCs": _epcis("childEPCs", _ID),
    "childQuantityList": _epcis("childQuantityList"),
    "inputEPCList": _epcis("inputEPCList", _ID),
    "outputEPCList": _epcis("outputEPCList", _ID),
    "inputQuantityList": _epcis("inputQuantityList"),
    "outputQuantityList": _epcis("outputQuantityList"),
    "sensorElementList": _epcis("sensorElementList", None, _SENSOR_ELEMENT_SCOPE),
    "errorDeclaration": _epcis(
        "errorDeclaration",
        None,
        {
            "reason": _epcis("reason", _VOCAB, _names(CBV + "ER-", ERROR_REASONS)),
            "correctiveEventIDs": _epcis("correctiveEventIDs", _ID),
            "declarationTime": _epcis("declarationTime"),
        },
    ),
    "creationDate": Term(PREFIXES["dcterms"] + "created"),
    "sender": _epcis("sender"),
    "receiver": _epcis("receiver"),
    "instanceIdentifier": _epcis("instanceIdentifier"),
    "schemaVersion": Term(PREFIXES["owl"] + "versionInfo"),
    "ilmd": _epcis("ilmd"),
    "EPCISDocument": _epcis("EPCISDocument"),
    "EPCISQueryDocument": _epcis("EPCISQueryDocument"),
    "epcisHeader": _epcis("epcisHeader"),
    "masterData": _epcis("masterData"),
    "vocabularyList": _epcis("vocabularyList"),
    "epcisBody": _epcis("epcisBody"),
    "queryResults": _epcis("queryResults"),
    "subscriptionID": _epcis("subscriptionID"),
    "queryName": _epcis("queryName"),
    "resultsBody": _epcis("resultsBody"),
    "eventList": _epcis("eventList"),
    "children": _epcis("children", _ID),
}
