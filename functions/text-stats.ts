// Counts bytes, lines and words of a UTF-8 body, reading the packet in place: one branch of the
// analyze flow.
export default function textStats(input: Uint8Array) {
  let lines = 0;
  let words = 0;
  let inWord = false;
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c === 10) lines++;
    const space = c === 32 || c === 9 || c === 10 || c === 13;
    if (!space && !inWord) words++;
    inWord = !space;
  }
  if (input.length > 0 && input[input.length - 1] !== 10) lines++;
  return { bytes: input.length, lines, words };
}
