// attachAppLifecycle() takes react-native's AppState and NetInfo's default
// export as they are typed by their packages (verbatim copies in
// test/fixtures/react-native-types: AppState's generic addEventListener, the
// NetInfoState union), with no cast.
import { expectTypeOf, test } from 'vitest'
import type AppState from '../fixtures/react-native-types/react-native/Libraries/AppState/AppState.js'
import type NetInfo from '../fixtures/react-native-types/netinfo/src/index.js'
import type { NetInfoState } from '../fixtures/react-native-types/netinfo/src/index.js'
import type { TokenManager } from '../../src/index.js'
import { attachAppLifecycle, type AppStateLike, type NetInfoLike, type NetInfoStateLike } from '../../src/integrations/react-native/index.js'

declare const manager: TokenManager

test("react-native's AppState and NetInfo fit the helper's types", () => {
  expectTypeOf<typeof AppState>().toExtend<AppStateLike>()
  expectTypeOf<typeof NetInfo>().toExtend<NetInfoLike>()
  expectTypeOf<NetInfoState>().toExtend<NetInfoStateLike>()
  expectTypeOf(attachAppLifecycle(manager, { appState: {} as typeof AppState, netInfo: {} as typeof NetInfo })).toEqualTypeOf<() => void>()
})

test('a look-alike of the wrong shape does not', () => {
  expectTypeOf<{ addEventListener(type: 'change', listener: (state: number) => void): { remove(): void } }>().not.toExtend<AppStateLike>()
  expectTypeOf<{ addEventListener(listener: (state: { isConnected: string }) => void): () => void }>().not.toExtend<NetInfoLike>()
})
