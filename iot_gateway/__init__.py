"""MQTT ingestion: signed device readings in, verified rows and EPCIS sensor events out."""
