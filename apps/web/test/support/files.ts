/** Files a contact picks, made in memory. Padding makes uploads last long enough to watch under throttling. */
const ONE_PIXEL_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

export function pdf(name: string, padding = 0) {
  const body = Buffer.concat([Buffer.from('%PDF-1.4\n% Spade test document\n%%EOF\n'), Buffer.alloc(padding, 0x20)]);
  return { name, mimeType: 'application/pdf', buffer: body };
}

/** A real PNG (decoders ignore bytes after IEND), so the console's preview renders it. */
export function png(name: string, padding = 0) {
  return { name, mimeType: 'image/png', buffer: Buffer.concat([ONE_PIXEL_PNG, Buffer.alloc(padding, 0)]) };
}

export function csv(name: string) {
  return { name, mimeType: 'text/csv', buffer: Buffer.from('employee,gross\nA,1000\n') };
}

export function html(name: string) {
  return { name, mimeType: 'text/html', buffer: Buffer.from('<script>alert(1)</script>') };
}
