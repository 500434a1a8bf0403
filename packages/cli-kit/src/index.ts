export type { Column } from './table';
export { formatInteger, formatMillions, formatTable } from './table';
export { UsageError, describeWriteError, exitWithUsageStatus, reportError } from './errors';
export { parseChoiceOption, parseIntegerOption, parseNumberOption } from './options';
export type { ModelFolder } from './model-folder';
export { describeModelLoadError, resolveModelFolder } from './model-folder';
