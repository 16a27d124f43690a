"""Mints tallyd voter tokens from the documented format (README: "Voter tokens"); with a third
argument `basic`, each as a whole HTTP Basic `Authorization` value (voter id, token as password)."""
import base64, hashlib, hmac, sys, time

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def mint(secret: bytes, voter: str, expires: int) -> str:
    signed = f"v1.{b64url(voter.encode())}.{expires}"
    mac = hmac.new(secret, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{b64url(mac)}"

if __name__ == "__main__":
    secret, count = sys.argv[1].encode(), int(sys.argv[2])
    expires = int(time.time()) + 3600
    basic = len(sys.argv) > 3 and sys.argv[3] == "basic"
    for n in range(count):
        token = mint(secret, f"voter-{n}", expires)
        print("Basic " + base64.b64encode(f"voter-{n}:{token}".encode()).decode() if basic else token)
