"""Mints tallyd voter tokens from the documented format (README: "Voter tokens")."""
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
    for n in range(count):
        print(mint(secret, f"voter-{n}", expires))
