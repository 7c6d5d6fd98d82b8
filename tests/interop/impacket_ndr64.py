#!/usr/bin/env python3
"""Impacket's DCE/RPC client binding msrpcd's endpoint mapper with NDR64 only (as
getArch.py does) and calling ept_lookup in NDR64; then rpcecho's AddOne over NDR64 on the
demo endpoint. Usage: impacket_ndr64.py HOST EPM_PORT. Exit 0 when every check holds."""
import sys

from impacket.dcerpc.v5 import epm, transport
from impacket.dcerpc.v5.rpcrt import DCERPCException

NDR64 = ('71710533-beba-4937-8319-b5dbef9ccc36', '1.0')


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
    for e in entries:
        tower = epm.EPMTower(b''.join(e['tower']['tower_octet_string']))
        names.append((b''.join(e['annotation'])[:-1].decode(errors='replace'),
                      epm.bin_to_string(tower['Floors'][0]['InterfaceUUID']),
                      epm.bin_to_string(tower['Floors'][1]['DataRepUuid'])))
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
    return 0


if __name__ == '__main__':
    sys.exit(main())
