package dev.inferencekey.sdk;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A fault a real server does not produce on demand: it accepts connections, reads requests and
 * never answers. {@link #closes} gets the time (nanoTime) each connection was closed by the
 * client, so tests can prove that a cancelled call really hung up.
 */
final class SilentServer implements AutoCloseable {
    final BlockingQueue<Long> accepted = new LinkedBlockingQueue<>();
    final BlockingQueue<Long> closes = new LinkedBlockingQueue<>();
    private final ServerSocket socket;

    SilentServer() throws IOException {
        socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(this::acceptLoop, "silent-server");
        t.setDaemon(true);
        t.start();
    }

    String baseUrl() {
        return "http://127.0.0.1:" + socket.getLocalPort();
    }

    private void acceptLoop() {
        while (!socket.isClosed()) {
            try {
                Socket s = socket.accept();
                accepted.add(System.nanoTime());
                Thread r = new Thread(() -> drain(s), "silent-conn");
                r.setDaemon(true);
                r.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void drain(Socket s) {
        try (s; InputStream in = s.getInputStream()) {
            byte[] buf = new byte[8192];
            while (in.read(buf) >= 0) {
                // Read the request and keep quiet.
            }
            closes.add(System.nanoTime());
        } catch (IOException e) {
            closes.add(System.nanoTime());
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
