import { PassThrough } from 'node:stream';
import { progressCallback } from './progress';

function capture() {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream;
  let text = '';
  (stream as unknown as PassThrough).on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

describe('progressCallback', () => {
  it('reports a long validation as plain lines, then a done line; a short one stays quiet', async () => {
    const out = capture();
    const progress = progressCallback({ stream: out.stream, tty: false, intervalSeconds: 0 });
    const now = jest.spyOn(Date, 'now');
    let t = 1_000_000;
    now.mockImplementation(() => t);
    try {
      for (const examples of [8, 16, 24]) {
        progress.onValidationProgress!({ examples, total: 24, step: 5 });
        t += 3000;
      }
      for (const examples of [8, 16]) progress.onValidationProgress!({ examples, total: 16, step: 9 });
    } finally {
      now.mockRestore();
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(out.text().split('\n').filter((l) => l !== '')).toEqual(['validating: 16/24 images (3s)', 'validating: 24/24 images (6s)', 'validating: 24/24 images, done in 6s']);
  });
});
