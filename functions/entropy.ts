// Shannon entropy of the body in bits per byte (0 = one repeated byte, 8 = random), with the most
// common byte: one branch of the analyze flow.
export default function entropy(input: Uint8Array) {
  const counts = new Float64Array(256);
  for (let i = 0; i < input.length; i++) counts[input[i]]++;
  let bits = 0;
  let top = 0;
  for (let b = 0; b < 256; b++) {
    if (counts[b] > counts[top]) top = b;
    if (counts[b] === 0) continue;
    const p = counts[b] / input.length;
    bits -= p * Math.log2(p);
  }
  return { bitsPerByte: Math.round(bits * 1000) / 1000, mostCommonByte: input.length ? top : null };
}
