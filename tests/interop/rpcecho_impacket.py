"""Samba's rpcecho interface (AddOne, EchoData) as Impacket NDR call classes, shared by the interop
scripts that drive rpcecho through Impacket's client (impacket_ntlm.py, impacket_anonymous.py)."""

from impacket.dcerpc.v5.dtypes import ULONG
from impacket.dcerpc.v5.ndr import NDRCALL, NDRUniConformantArray
from impacket.uuid import uuidtup_to_bin

ECHO = uuidtup_to_bin(("60a15ec5-4de8-11d7-a637-005056a20182", "1.0"))


class BYTES(NDRUniConformantArray):
    item = "c"


class AddOne(NDRCALL):
    opnum = 0
    structure = (("in_data", ULONG),)


class AddOneResponse(NDRCALL):
    structure = (("out_data", ULONG),)


class EchoData(NDRCALL):
    opnum = 1
    structure = (("len", ULONG), ("in_data", BYTES))


class EchoDataResponse(NDRCALL):
    structure = (("out_data", BYTES),)
