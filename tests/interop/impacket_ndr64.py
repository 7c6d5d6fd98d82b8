#!/usr/bin/env python3
"""Impacket's DCE/RPC client binding msrpcd's endpoint mapper with NDR64 only (as
getArch.py does) and calling ept_lookup in NDR64; then rpcecho's AddOne over NDR64 on the
demo endpoint (its port from the lookup's rpcecho tower). Usage: impacket_ndr64.py HOST
EPM_PORT. Exit 0 when every check holds."""
import os
import re
import sys

from impacket.dcerpc.v5 import epm, transport
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.uuid import uuidtup_to_bin

HERE = os.path.dirname(os.path.abspath(__file__))
# The rpcecho NDRCALL classes (tools/impacket-vectors), as impacket_echo.py uses them.
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tools', 'impacket-vectors'))
import gen_vectors as echo  # noqa: E402

NDR64 = ('71710533-beba-4937-8319-b5dbef9ccc36', '1.0')
ECHO_UUID = '60a15ec5-4de8-11d7-a637-005056a20182'


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    t = transport.DCERPCTransportFactory(f'ncacn_ip_tcp:{host}[{port}]')
    dce = t.get_dce_rpc()
    dce.connect()
    # getArch.py: a bind offering only NDR64; a 32-bit-only server refuses it.
    try:
        dce.bind(epm.MSRPC_UUID_PORTMAP, transfer_syntax=NDR64)
    except DCERPCException as e:
        print(f'FAIL: NDR64 bind refused: {e}')
        return 1
    print('ndr64 bind accepted (getArch.py would report 64-bit)')
    # hept_lookup's own loop, without its NDR20 re-bind of the bound context
    entries = []
    handle = epm.ept_lookup_handle_t()
    while True:
        req = epm.ept_lookup()
        req['inquiry_type'] = epm.RPC_C_EP_ALL_ELTS
        req['object'] = epm.NULL
        req['Ifid'] = epm.NULL
        req['vers_option'] = epm.RPC_C_VERS_ALL
        req['entry_handle'] = handle
        req['max_ents'] = 500
        resp = dce.request(req)
        for i in range(resp['num_ents']):
            entries.append(resp['entries'][i])
        handle = resp['entry_handle']
        if handle.isNull():
            break
    if not entries:
        print('FAIL: NDR64 ept_lookup returned no entry')
        return 1
    names = []
    echo_ports = []
    for e in entries:
        tower = epm.EPMTower(b''.join(e['tower']['tower_octet_string']))
        names.append((b''.join(e['annotation'])[:-1].decode(errors='replace'),
                      epm.bin_to_string(tower['Floors'][0]['InterfaceUUID']),
                      epm.bin_to_string(tower['Floors'][1]['DataRepUuid'])))
        binding = epm.PrintStringBinding(tower['Floors'])
        if names[-1][1].lower() == ECHO_UUID and binding.startswith('ncacn_ip_tcp:'):
            echo_ports += [int(p) for p in re.findall(r'\[(\d+)\]', binding)]
    for n in names:
        print('entry', n)
    if not any('rpcecho' in a for a, _, _ in names):
        print('FAIL: the rpcecho demo entry is missing')
        return 1
    # endpoint-map towers name NDR20 (floor 2), whatever the lookup was called over
    if any(t.upper() != '8A885D04-1CEB-11C9-9FE8-08002B104860' for _, _, t in names):
        print('FAIL: a tower names a transfer syntax other than NDR20')
        return 1
    print(f'ndr64 ept_lookup: {len(entries)} entries, towers NDR20')
    dce.disconnect()

    # rpcecho AddOne over NDR64 on the demo endpoint
    if not echo_ports:
        print('FAIL: no ncacn_ip_tcp tower for rpcecho in the lookup')
        return 1
    t = transport.DCERPCTransportFactory(f'ncacn_ip_tcp:{host}[{echo_ports[0]}]')
    dce = t.get_dce_rpc()
    dce.connect()
    try:
        dce.bind(uuidtup_to_bin((ECHO_UUID, '1.0')), transfer_syntax=NDR64)
    except DCERPCException as e:
        print(f'FAIL: NDR64 bind of rpcecho refused: {e}')
        return 1
    for x in (0, 41, 0xffffffff):
        req = echo.EchoAddOne()
        req['in_data'] = x
        # AddOne returns no status: Impacket would read out_data as one (checkError)
        resp = dce.request(req, checkError=False)
        if resp['out_data'] != (x + 1) & 0xffffffff:
            print(f'FAIL: NDR64 AddOne({x:#x}) = {resp["out_data"]:#x}')
            return 1
    dce.disconnect()
    print(f'NDR64: ept_lookup {len(entries)} entries, towers NDR20; '
          f'rpcecho AddOne on port {echo_ports[0]} right')
    return 0


if __name__ == '__main__':
    sys.exit(main())
