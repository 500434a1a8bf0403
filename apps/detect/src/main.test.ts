import { createProgram } from './main';

describe('mobilenet-detect', () => {
  it('offers train, eval, predict, export, generate and coco-eval, each with help text for every option', () => {
    const program = createProgram();
    expect(program.commands.map((c) => c.name())).toEqual(['train', 'eval', 'predict', 'export', 'generate', 'coco-eval']);
    for (const command of program.commands) {
      expect(command.description()).not.toBe('');
      for (const option of command.options) expect(option.description).not.toBe('');
    }
  });
});
