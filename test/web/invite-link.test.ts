import { describe, expect, it } from 'vitest'
import { parseInvite } from '../../src/node/protocols/pairing/index.ts'
import { browserDeviceName } from '../../src/web/peer/device-name.ts'
import { FRAGMENT_KEY, inviteFromFragment, webInviteLink } from '../../src/web/peer/invite-link.ts'

const LINK =
  'cloudless://join#ATQxMkQzS29vV0FKcnhhOENLY2ZVQ2lLY1hDZGRGeWhpbnUxYjdnSzZzTVNka2h5ZkRVTTl1gIrwoqE0y5MBDuE7Pkq7nGq6hI9DaQMIBH8AAAEGqG0KBH8AAAEGrRndAzAEfwAAAZECq1mYAtIDIhIgcEgazoXrE0ivdm2aJF9cv1HMyyRb6aLyRTIMYcvdaFY'

describe('web invite links', () => {
  it('carry the invite in the fragment, and the page reads it back as the same invite', () => {
    const web = webInviteLink('http://127.0.0.1:7742/', LINK)
    const url = new URL(web)
    expect(url.origin + url.pathname).toBe('http://127.0.0.1:7742/')
    expect(url.search).toBe('')
    expect(url.hash.startsWith(`#${FRAGMENT_KEY}`)).toBe(true)
    const back = inviteFromFragment(url.hash)
    expect(back).toBe(LINK)
    expect(parseInvite(back!)).toEqual(parseInvite(LINK))
  })

  it('ignore fragments that hold no invite', () => {
    expect(inviteFromFragment('')).toBeUndefined()
    expect(inviteFromFragment('#albums')).toBeUndefined()
    expect(inviteFromFragment(`#${FRAGMENT_KEY}`)).toBeUndefined()
  })
})

describe('the browser device name', () => {
  it('names the browser and the system', () => {
    const linuxChromium =
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36'
    const macSafari =
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15'
    const windowsFirefox = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0'
    expect(browserDeviceName(linuxChromium)).toBe('Chromium on Linux')
    expect(browserDeviceName(macSafari)).toBe('Safari on macOS')
    expect(browserDeviceName(windowsFirefox)).toBe('Firefox on Windows')
    expect(browserDeviceName('curl/8')).toBe('Browser web player')
  })
})
