export { Catalog } from './catalog.ts'
export {
  type BatchOp,
  LevelCatalogStore,
  type LevelStoreOptions,
  type RootLevel,
  StoreClosedError,
} from './persistence/level-store.ts'
export { decodeTrack, encodeTrack } from './record-codec.ts'
export * from './schema.ts'
export * from './views.ts'
