//! PDU encode and decode (being written).
