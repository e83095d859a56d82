// on-headers ships no types: the one call the tests make.
declare module 'on-headers' {
  import type { ServerResponse } from 'node:http'
  export default function onHeaders(response: ServerResponse, listener: (this: ServerResponse) => void): void
}
