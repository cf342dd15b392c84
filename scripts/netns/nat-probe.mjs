// A tiny NAT probe for the test bed (plain JavaScript, so any Node runs it).
//   node nat-probe.mjs serve <ip> <port>                 UDP and TCP: answer with the sender's ip:port
//   node nat-probe.mjs ask <local port> <ip:port>...     from ONE local port (UDP, then TCP), ask each
//                                                        server what it sees; prints JSON
import dgram from 'node:dgram'
import net from 'node:net'

const [mode, ...args] = process.argv.slice(2)

if (mode === 'serve') {
  const [ip, port] = [args[0], Number(args[1])]
  const udp = dgram.createSocket('udp4')
  udp.on('message', (_msg, from) => udp.send(`${from.address}:${from.port}`, from.port, from.address))
  udp.bind(port, ip)
  net.createServer((socket) => socket.end(`${socket.remoteAddress}:${socket.remotePort}`)).listen(port, ip)
} else if (mode === 'ask') {
  const localPort = Number(args[0])
  const servers = args.slice(1).map((s) => {
    const [host, port] = s.split(':')
    return { host, port: Number(port) }
  })
  const udp = dgram.createSocket('udp4')
  await new Promise((resolve) => udp.bind(localPort, resolve))
  const askUdp = (server) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no UDP answer from ${server.host}`)), 3000)
      udp.once('message', (msg) => {
        clearTimeout(timer)
        resolve(msg.toString())
      })
      udp.send('?', server.port, server.host)
    })
  const askTcp = (server) =>
    new Promise((resolve, reject) => {
      let seen = ''
      const socket = net.connect({ host: server.host, port: server.port, localPort: localPort + 1 })
      socket.setTimeout(3000, () => socket.destroy(new Error(`no TCP answer from ${server.host}`)))
      socket.on('data', (d) => {
        seen += d
      })
      socket.on('end', () => resolve(seen))
      socket.on('error', reject)
    })
  const udpSeen = []
  for (const server of servers) udpSeen.push(await askUdp(server))
  udp.close()
  const tcpSeen = []
  // TCP needs a pause between connections from the same local port (TIME_WAIT on our side).
  for (const server of servers) {
    tcpSeen.push(await askTcp(server))
    await new Promise((r) => setTimeout(r, 200))
  }
  const kind = (seen) => (new Set(seen.map((s) => s.split(':')[1])).size === 1 ? 'cone' : 'symmetric')
  console.log(
    JSON.stringify({
      udp: { seen: udpSeen, mapping: kind(udpSeen) },
      tcp: { seen: tcpSeen, mapping: kind(tcpSeen) },
    }),
  )
} else {
  console.error('usage: nat-probe.mjs serve <ip> <port> | ask <local port> <ip:port>...')
  process.exit(2)
}
