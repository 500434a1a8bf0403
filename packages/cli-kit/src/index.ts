export type { Column } from './table';
export { formatInteger, formatMillions, formatTable } from './table';
export { UsageError, exitWithUsageStatus, reportError } from './errors';
export { parseChoiceOption, parseIntegerOption, parseNumberOption } from './options';
