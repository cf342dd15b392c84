import type { ParseArgsConfig } from 'node:util'

export type OptionSpec = NonNullable<ParseArgsConfig['options']>

export interface CommandContext {
  /** Resolved home dir of this device. */
  home: string
  json: boolean
  values: Record<string, string | boolean | Array<string | boolean> | undefined>
  positionals: string[]
  signal: AbortSignal
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WriteStream | NodeJS.WritableStream
}

export interface Command {
  name: string
  /** Usage text shown by --help: synopsis, options, examples. */
  usage: string
  options: OptionSpec
  /** Returns the exit code. */
  run(ctx: CommandContext): Promise<number>
}
