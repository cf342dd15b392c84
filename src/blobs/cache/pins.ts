import { promises as fs } from 'node:fs'
import path from 'node:path'
import { isContentId } from '../content-id.ts'
import { isNotFound } from './errors.ts'
import { PINS_FILE } from './layout.ts'

export interface Pin {
  readonly label?: string
  /** Milliseconds since the epoch. */
  readonly pinnedAt: number
}

interface PinsFile {
  version: 1
  pins: Array<{ contentId: string; label?: string; pinnedAt: number }>
}

/**
 * Reads `pins.json`. It is only ever replaced atomically, so a damaged one means outside
 * interference: it is moved aside (never silently overwritten) and the cache starts without pins.
 */
export async function loadPins(
  root: string,
  signal?: AbortSignal,
): Promise<{ pins: Map<string, Pin>; damaged: boolean }> {
  const file = path.join(root, PINS_FILE)
  let text: string
  try {
    text = await fs.readFile(file, { encoding: 'utf8', signal })
  } catch (error) {
    if (isNotFound(error)) return { pins: new Map(), damaged: false }
    throw error
  }
  try {
    return { pins: parsePins(text), damaged: false }
  } catch {
    await fs.rename(file, `${file}.damaged-${Date.now()}`)
    return { pins: new Map(), damaged: true }
  }
}

export function encodePins(pins: ReadonlyMap<string, Pin>): string {
  const body: PinsFile = {
    version: 1,
    pins: [...pins].map(([contentId, pin]) => ({ contentId, ...pin })),
  }
  return `${JSON.stringify(body, null, 1)}\n`
}

function parsePins(text: string): Map<string, Pin> {
  const body = JSON.parse(text) as PinsFile
  if (body?.version !== 1 || !Array.isArray(body.pins)) throw new Error('not a version 1 pins file')
  const pins = new Map<string, Pin>()
  for (const { contentId, label, pinnedAt } of body.pins) {
    if (!isContentId(contentId) || typeof pinnedAt !== 'number') throw new Error('malformed pin')
    pins.set(contentId, typeof label === 'string' ? { label, pinnedAt } : { pinnedAt })
  }
  return pins
}
