// SHA-256 (FIPS 180-4) in plain JavaScript, for pages served where crypto.subtle is missing:
// WebCrypto exists only in secure contexts (https, localhost), and an S3 website endpoint
// serves the page over plain http. An ES module with no dependencies and no build step.
//
//   digest(bytes)                 -> Uint8Array(32), bytes a Uint8Array/ArrayBuffer
//   create().update(b)...digest() -> the same, fed in pieces

// The first 32 bits of the fractional parts of the cube roots of the first 64 primes.
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

// Compresses the 64-byte blocks of `bytes` from `offset` to `end` (a multiple of 64 past
// offset) into the state `h`; `w` is scratch space for the message schedule.
function blocks(h, w, bytes, offset, end) {
  let h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3], h4 = h[4], h5 = h[5], h6 = h[6], h7 = h[7];
  for (let p = offset; p < end; p += 64) {
    for (let i = 0; i < 16; i += 1) {
      const j = p + i * 4;
      w[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
    }
    for (let i = 16; i < 64; i += 1) {
      const a = w[i - 15];
      const b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, hh = h7;
    for (let i = 0; i < 64; i += 1) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + hh) | 0;
  }
  h[0] = h0; h[1] = h1; h[2] = h2; h[3] = h3; h[4] = h4; h[5] = h5; h[6] = h6; h[7] = h7;
}

function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("SHA-256 takes a Uint8Array, another typed array or an ArrayBuffer");
}

export function create() {
  const h = new Int32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Int32Array(64);
  // Bytes not yet making a whole block.
  const pending = new Uint8Array(64);
  let pendingLength = 0;
  // Bytes fed so far; a double holds every length up to 2^53, far past any file.
  let total = 0;
  let done = false;

  const hasher = {
    update(data) {
      if (done) throw new Error("this SHA-256 has already been finished");
      const bytes = asBytes(data);
      total += bytes.length;
      let offset = 0;
      if (pendingLength > 0) {
        const take = Math.min(64 - pendingLength, bytes.length);
        pending.set(bytes.subarray(0, take), pendingLength);
        pendingLength += take;
        offset = take;
        if (pendingLength < 64) return hasher;
        blocks(h, w, pending, 0, 64);
        pendingLength = 0;
      }
      const whole = offset + Math.floor((bytes.length - offset) / 64) * 64;
      if (whole > offset) blocks(h, w, bytes, offset, whole);
      if (whole < bytes.length) {
        pending.set(bytes.subarray(whole), 0);
        pendingLength = bytes.length - whole;
      }
      return hasher;
    },
    digest() {
      if (done) throw new Error("this SHA-256 has already been finished");
      done = true;
      // 0x80, zeros up to 56 mod 64, then the length in bits as a 64-bit big-endian number.
      const tail = new Uint8Array(pendingLength < 56 ? 64 : 128);
      tail.set(pending.subarray(0, pendingLength), 0);
      tail[pendingLength] = 0x80;
      const bitsHigh = Math.floor(total / 0x20000000);
      const bitsLow = (total * 8) >>> 0;
      const n = tail.length;
      tail[n - 8] = bitsHigh >>> 24;
      tail[n - 7] = bitsHigh >>> 16;
      tail[n - 6] = bitsHigh >>> 8;
      tail[n - 5] = bitsHigh;
      tail[n - 4] = bitsLow >>> 24;
      tail[n - 3] = bitsLow >>> 16;
      tail[n - 2] = bitsLow >>> 8;
      tail[n - 1] = bitsLow;
      blocks(h, w, tail, 0, n);
      const out = new Uint8Array(32);
      for (let i = 0; i < 8; i += 1) {
        out[i * 4] = h[i] >>> 24;
        out[i * 4 + 1] = h[i] >>> 16;
        out[i * 4 + 2] = h[i] >>> 8;
        out[i * 4 + 3] = h[i];
      }
      return out;
    },
  };
  return hasher;
}

export function digest(data) {
  return create().update(data).digest();
}
