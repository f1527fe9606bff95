/* global module */
'use strict';
// The body of operation `id` in the kill loop: its size and bytes depend on
// the id alone, so the parent can check what it reads back.
function bodyFor(id) {
  const size = (id * 7919) % 3 === 0 ? (id * 104729) % 70000 : (id * 31) % 900;
  const body = Buffer.alloc(size);
  let x = (id * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    body[i] = x & 0xff;
  }
  return body;
}
module.exports = { bodyFor };
