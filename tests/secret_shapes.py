"""Channel secrets of every shape the scrubbing tests try: Google, hex, Groq, OpenAI, AWS."""

SECRETS = {
    "gemini": "AIzaSyD3kx9Q-7bT2mW8vL0pR4sN6yH1jF5cE_g",
    "hex": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "groq": "gsk_Xy12ab34CD56ef78GH90ij12KL34mn56OP78qr90ST12uv34",
    "openai": "sk-proj-Abc123Def456Ghi789Jkl012Mno345Pqr678Stu",
    "aws": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+z9=",
}
