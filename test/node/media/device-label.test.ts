import { expect, it } from 'vitest'
import { Catalog } from '../../../src/crdt/index.ts'
import { deviceLabel } from '../../../src/node/media/media.ts'

// How fetch errors name a device: as the catalog calls it, cleaned, told apart when names repeat.

const HOME = '12D3KooWHomeHomeHomeHomeHomeHomeHomeHomeHomeAAAAAAAA'
const COPY = '12D3KooWCopyCopyCopyCopyCopyCopyCopyCopyCopyBBBBBBBB'
const LAPTOP = '12D3KooWLaptopLaptopLaptopLaptopLaptopLaptopCCCCCCCC'

function catalogWith(devices: Record<string, string>): Catalog {
  const catalog = new Catalog()
  for (const [id, name] of Object.entries(devices)) catalog.putDevice(id, { name, addedAt: 1 })
  return catalog
}

it('names a device as the catalog calls it, and not at all when it is unknown or unnamed', () => {
  const catalog = catalogWith({ [HOME]: 'home', [LAPTOP]: '   ' })
  expect(deviceLabel(catalog, HOME)).toBe('home')
  expect(deviceLabel(catalog, LAPTOP)).toBeUndefined()
  expect(deviceLabel(catalog, '12D3KooWUnknown')).toBeUndefined()
})

it('strips control characters (a name cannot rewrite the terminal) and long names', () => {
  const catalog = catalogWith({ [HOME]: '\u001b[2Jho\u0007me\n', [LAPTOP]: 'x'.repeat(200) })
  expect(deviceLabel(catalog, HOME)).toBe('[2Jhome')
  expect(deviceLabel(catalog, LAPTOP)).toBe('x'.repeat(64))
})

it('adds the end of the device ID when another device goes by the same name, control characters aside', () => {
  const catalog = catalogWith({ [HOME]: 'home', [COPY]: 'home\u0000', [LAPTOP]: 'laptop' })
  expect(deviceLabel(catalog, HOME)).toBe('home (…AAAAAAAA)')
  // Invisible format characters (zero-width, direction overrides) do not tell names apart either.
  expect(deviceLabel(catalogWith({ [HOME]: 'home', [COPY]: 'ho\u200bme\u202e' }), HOME)).toBe(
    'home (…AAAAAAAA)',
  )
  expect(deviceLabel(catalog, COPY)).toBe('home (…BBBBBBBB)')
  expect(deviceLabel(catalog, LAPTOP)).toBe('laptop')
})
