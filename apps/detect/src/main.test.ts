import { createProgram } from './main';

describe('mobilenet-detect', () => {
  it('offers generate, coco-eval and export, each with help text for every option', () => {
    const program = createProgram();
    expect(program.commands.map((c) => c.name())).toEqual(['generate', 'coco-eval', 'export']);
    for (const command of program.commands) {
      expect(command.description()).not.toBe('');
      for (const option of command.options) expect(option.description).not.toBe('');
    }
  });
});
