// A JSON transform: reads {items: [{name, price, qty}]} and answers totals per item and overall.
import type { Context } from '../src/index.js';

interface Item {
  name: string;
  price: number;
  qty: number;
}

export default function transform(input: Uint8Array, ctx: Context) {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(input));
  } catch {
    ctx.status(400);
    return { error: 'body is not valid JSON' };
  }
  const items = (body as { items?: unknown }).items;
  if (!Array.isArray(items) || !items.every((i: Item) => typeof i?.name === 'string' && typeof i.price === 'number' && typeof i.qty === 'number')) {
    ctx.status(400);
    return { error: 'expected {"items": [{"name": string, "price": number, "qty": number}, ...]}' };
  }
  const lines = (items as Item[]).map((i) => ({ name: i.name.toUpperCase(), total: Math.round(i.price * i.qty * 100) / 100 }));
  return { lines, total: Math.round(lines.reduce((a, l) => a + l.total, 0) * 100) / 100, count: lines.length };
}
