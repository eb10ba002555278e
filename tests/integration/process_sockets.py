"""What a process listens on, read from outside it: its TCP listening sockets from /proc (address, family) and,
for IPv6, IPV6_V6ONLY through a duplicate of the descriptor (pidfd_getfd, allowed on one's own children).
Also its CPU time and descriptor count, for the tests at the open-file limit."""
import ctypes
import os
import socket

LISTEN = "0A"
SYS_PIDFD_GETFD = 438
_libc = ctypes.CDLL(None, use_errno=True)


def _address(hex_text):
    raw = bytes.fromhex(hex_text)
    if len(raw) == 4:
        return socket.AF_INET, socket.inet_ntop(socket.AF_INET, raw[::-1])
    # /proc prints an IPv6 address as four 32-bit words, each in host (little-endian) order
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return socket.AF_INET6, socket.inet_ntop(socket.AF_INET6, words)


def _socket_descriptors(pid):
    """{socket inode: descriptor number} of the process."""
    found = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found[int(target[8:-1])] = int(name)
    return found


def _v6only(pid, descriptor):
    pidfd = os.pidfd_open(pid)
    try:
        copy = _libc.syscall(SYS_PIDFD_GETFD, pidfd, descriptor, 0)
        if copy < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        with socket.socket(fileno=copy) as s:
            return s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
    finally:
        os.close(pidfd)


def listening_sockets(pid):
    """[(family, address, port, v6only)] of every TCP socket the process listens on; v6only is None for IPv4."""
    descriptors = _socket_descriptors(pid)
    found = []
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            next(f)
            for line in f:
                fields = line.split()
                local, state, inode = fields[1], fields[3], int(fields[9])
                if state != LISTEN or inode not in descriptors:
                    continue
                address_hex, port_hex = local.split(":")
                family, address = _address(address_hex)
                v6only = _v6only(pid, descriptors[inode]) if family == socket.AF_INET6 else None
                found.append((family, address, int(port_hex, 16), v6only))
    return found


def cpu_seconds(pid):
    """User plus system CPU time the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descriptor_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def holds_connection(pid, local_port, remote_port):
    """Whether the process still has a descriptor for its TCP connection from local_port to remote_port (a
    socket it closed may linger in the kernel, in FIN_WAIT, without one)."""
    descriptors = _socket_descriptors(pid)
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            next(f)
            for line in f:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], int(fields[9])
                if (int(local.split(":")[1], 16) == local_port and int(remote.split(":")[1], 16) == remote_port
                        and inode in descriptors):
                    return True
    return False
