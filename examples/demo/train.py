"""Demo training script. mlaudit reads it with `ast` (it is never run) to find model and dataset references."""

from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer

BASE_MODEL = "facebo0k/opt-350m"  # a look-alike of the real org, on purpose

tokenizer = AutoTokenizer.from_pretrained(BASE_MODEL)
model = AutoModelForCausalLM.from_pretrained(BASE_MODEL, trust_remote_code=True)
dataset = load_dataset("stanfordnlp/imdb", revision="main")
