/**
 * The one change the proxy makes to what the server sends: the SUCCESS answering ROUTE.
 *
 *   SUCCESS { rt: { servers: [ { addresses: [...], role: 'WRITE' | 'READ' | 'ROUTE' }, … ], ttl, db } }
 *
 * Every role's `addresses` becomes [advertisedAddress], so `neo4j://` clients keep using the proxy
 * (one server behind it). Everything else is copied byte for byte (the walk copies the encoded
 * spans of values it does not change), so integers stay integers and unknown keys survive.
 */
import { PackReader, PackWriter } from './packstream.js';
import { SIG } from './messages.js';

function isMap(m: number): boolean {
  return (m >= 0xa0 && m <= 0xaf) || (m >= 0xd8 && m <= 0xda);
}

function isList(m: number): boolean {
  return (m >= 0x90 && m <= 0x9f) || (m >= 0xd4 && m <= 0xd6);
}

/**
 * The rewritten body of a ROUTE answer, or null when `body` is not a SUCCESS with a routing table
 * (FAILURE and IGNORED go to the client unchanged). Throws PackStreamError on bytes it cannot read.
 */
export function rewriteRouteSuccess(body: Buffer, advertisedAddress: string): { body: Buffer; replaced: number } | null {
  const r = new PackReader(body);
  const { size, signature } = r.structHeader();
  if (signature !== SIG.SUCCESS || size < 1) return null;
  const w = new PackWriter();
  let replaced = 0;
  let sawRt = false;
  let from = 0; // start of the bytes not yet copied
  const copyTo = (pos: number): void => {
    if (pos > from) w.raw(body.subarray(from, pos));
    from = pos;
  };

  const eachEntry = (onKey: (key: string) => void): void => {
    const n = r.containerHeader('map');
    for (let i = 0; i < n; i++) onKey(r.string());
  };

  if (!isMap(body[r.pos]!)) return null;
  eachEntry((key) => {
    if (key !== 'rt' || !isMap(body[r.pos]!)) return void r.skip();
    sawRt = true;
    eachEntry((rtKey) => {
      if (rtKey !== 'servers' || !isList(body[r.pos]!)) return void r.skip();
      const servers = r.containerHeader('list');
      for (let s = 0; s < servers; s++) {
        if (!isMap(body[r.pos]!)) {
          r.skip();
          continue;
        }
        eachEntry((serverKey) => {
          if (serverKey !== 'addresses') return void r.skip();
          const start = r.pos;
          copyTo(start);
          r.skip();
          from = r.pos;
          w.header('list', 1).string(advertisedAddress);
          replaced++;
        });
      }
    });
  });
  if (!sawRt) return null;
  copyTo(body.length);
  return { body: w.toBuffer(), replaced };
}
