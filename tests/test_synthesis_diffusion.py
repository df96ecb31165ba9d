"""The diffusion synthesis route on a tiny Stable-Diffusion-layout model with random weights, built here from
small configs and saved with ``save_pretrained``: feature hooks, the interpreter learning from real features,
training through ``mattekit train`` and ``mattekit synthesize`` writing a set the HIM2K reader reads."""

import json

import numpy as np
import pytest
import torch

diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

from mattekit import io  # noqa: E402
from mattekit.cli import main  # noqa: E402
from mattekit.data.readers import HIM2K  # noqa: E402
from mattekit.errors import InputError  # noqa: E402
from mattekit.evaluation.interactive import imq  # noqa: E402
from mattekit.models.interpreter import Interpreter, interpreter_loss  # noqa: E402
from mattekit.synthesis import diffusion  # noqa: E402
from mattekit.synthesis.interpret import instances, read_interpreter, write_interpreter  # noqa: E402
from mattekit.synthesis.prompts import scene_prompts  # noqa: E402

TOKENS = 12
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors run faster on one thread, and the test machine is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def save_tiny_model(folder):
    """A 3-level U-Net (cross-attention in two down and two up blocks), a 2-level VAE (factor 2), a one-layer
    CLIP text encoder with a letter vocabulary, and a DDPM scheduler, in the diffusers folder layout."""
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(8, 16, 16),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16, attention_head_dim=4, norm_num_groups=4)
    vae = diffusers.AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2, norm_num_groups=4)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in LETTERS:
        vocab[c], vocab[c + "</w>"] = len(vocab), len(vocab) + 1
    (folder / "vocab").mkdir(parents=True)
    (folder / "vocab" / "vocab.json").write_text(json.dumps(vocab))
    (folder / "vocab" / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = transformers.CLIPTokenizer(str(folder / "vocab" / "vocab.json"), str(folder / "vocab" / "merges.txt"),
                                           model_max_length=TOKENS)
    text = transformers.CLIPTextModel(transformers.CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        max_position_embeddings=TOKENS, bos_token_id=0, eos_token_id=1, pad_token_id=1))
    scheduler = diffusers.DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    model = folder / "tiny-sd"
    for name, part in (("unet", unet), ("vae", vae), ("text_encoder", text), ("tokenizer", tokenizer),
                       ("scheduler", scheduler)):
        part.save_pretrained(model / name)
    return model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("sd"))


@pytest.fixture(scope="module")
def model(model_dir):
    return diffusion.load_model(model_dir)


def two_people(size=64):
    """An image of two coloured figures on a dark ground and their alphas (2, size, size)."""
    alphas = np.zeros((2, size, size), np.float32)
    alphas[0, size // 8: size - 8, size // 16: size * 7 // 16] = 1
    alphas[1, size // 4: size - 4, size * 9 // 16: size - 4] = 1
    noise = np.random.default_rng(0).integers(0, 40, (size, size, 3))
    image = noise + alphas[0][..., None] * [200, 60, 40] + alphas[1][..., None] * [40, 90, 200]
    return image.astype(np.uint8), alphas


def test_loader_reads_a_local_folder_only_and_names_what_is_missing(model_dir, tmp_path):
    with pytest.raises(InputError, match="is not a folder"):
        diffusion.load_model(tmp_path / "runwayml/stable-diffusion-v1-5")
    (tmp_path / "partial" / "unet").mkdir(parents=True)
    with pytest.raises(InputError, match="lacks vae/, text_encoder/, tokenizer/, scheduler/"):
        diffusion.load_model(tmp_path / "partial")


def test_features_give_decoder_scales_and_a_map_per_token(model, model_dir):
    assert (model.vae_factor, model.granularity, model.tokens) == (2, 8, TOKENS)
    image, _ = two_people()
    latent = diffusion.encode(model, image)
    assert latent.shape == (1, 4, 32, 32)
    context = diffusion.embed(model, ["two people"])
    t = torch.tensor([100])
    plain = diffusion.load_model(model_dir).unet(latent, t, encoder_hidden_states=context).sample  # no recorder
    levels = diffusion.features(model, latent, "two people", 100, torch.Generator().manual_seed(0))
    # decoder widths (16, 16, 8) at latent/4, /2, /1, each with one channel per text position
    assert [tuple(f.shape) for f in levels] == [(1, 16 + TOKENS, 8, 8), (1, 16 + TOKENS, 16, 16),
                                                (1, 8 + TOKENS, 32, 32)]
    assert [f.shape[1] for f in levels] == model.channels()
    for f in levels:  # attention over tokens is a distribution at every pixel, and stays one when averaged
        assert torch.allclose(f[:, -TOKENS:].sum(1), torch.ones(1), atol=1e-5)
    recorder, _ = diffusion.tapped(model)
    cross_layers = sum(name.endswith("attn2.processor") for name in model.unet.attn_processors)
    assert cross_layers == 7 and sum(recorder.counts.values()) == cross_layers
    assert sorted(recorder.counts) == [(8, 8), (16, 16), (32, 32)]
    recorded = model.unet(latent, t, encoder_hidden_states=context).sample  # recorder installed, not recording
    assert torch.allclose(plain, recorded, atol=1e-5)
    other = diffusion.features(model, latent, "a dog", 100, torch.Generator().manual_seed(0))
    assert not torch.allclose(levels[-1][:, -TOKENS:], other[-1][:, -TOKENS:])


def test_stable_diffusion_1_5_decoder_levels_as_documented():
    """SD 1.5's U-Net configuration (diffusers' defaults, 768-wide text), built without memory on the meta device."""
    with torch.device("meta"):
        unet = diffusers.UNet2DConditionModel(cross_attention_dim=768, attention_head_dim=8, sample_size=64)
    assert diffusion.decoder_channels(unet) == [1280, 1280, 640, 320]
    tap = diffusion.FeatureTap(unet)
    tap.recording = True
    with torch.device("meta"):  # a 768 px image: a 96 x 96 latent
        unet(torch.zeros(1, 4, 96, 96), torch.tensor([100]), encoder_hidden_states=torch.zeros(1, 77, 768))
    assert [tuple(f.shape[1:]) for f in tap.levels()] == [(1280, 12, 12), (1280, 24, 24), (640, 48, 48),
                                                          (320, 96, 96)]


def test_interpreter_learns_one_images_people_from_the_tiny_models_features(model):
    image, alphas = two_people(32)
    levels = diffusion.features(model, diffusion.encode(model, image), "two people", 100,
                                torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    net = Interpreter(model.channels(), queries=4, width=32, layers=2, heads=4)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    targets = [torch.from_numpy(alphas)]
    losses = []
    for _ in range(200):
        loss, _ = interpreter_loss(net(levels), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] <= 0.1 * losses[0], (losses[0], losses[-1])
    net.eval()
    with torch.no_grad():
        probs, found = instances(net(levels), (32, 32))
    assert len(found) == 2 and probs.min() > 0.5
    assert np.abs(np.sort(found.mean((1, 2))) - np.sort(alphas.mean((1, 2)))).max() < 0.05


def constant_interpreter(channels, alpha=0.8, logit=5.0):
    """An interpreter whose every query says "person" with probability sigmoid(``logit``) and draws ``alpha``
    everywhere: one person per image once duplicates are dropped."""
    torch.manual_seed(0)
    net = Interpreter(channels, queries=3, width=16, layers=1, heads=2)
    with torch.no_grad():
        for layer in (net.pixel.embed, net.mask_embed[-1], net.classify):
            layer.weight.zero_()
        net.pixel.embed.bias.fill_(1.0)
        net.mask_embed[-1].bias.fill_(alpha / 16)
        net.classify.bias.fill_(logit)
    return net


def him2k_folder(root, count=2):
    """A HIM2K-layout set of ``count`` two-person images with a captions file."""
    captions = {}
    for k in range(count):
        image, alphas = two_people()
        image = np.roll(image, 4 * k, axis=1)
        io.save_image(root / "images" / "natural" / f"p{k}.png", image)
        for i, alpha in enumerate(alphas):
            io.save_alpha(root / "alphas" / "natural" / f"p{k}" / f"{i:02d}.png", np.roll(alpha, 4 * k, axis=1))
        captions[f"natural/p{k}"] = "two people"
    (root / "captions.json").write_text(json.dumps(captions))
    return root


def test_train_then_synthesize_a_him2k_set(model, model_dir, tmp_path):
    data = him2k_folder(tmp_path / "real")
    run = tmp_path / "run"
    train = ["train", "configs/interpreter.yaml", f"run_dir={run}", f"interpreter.diffusion={model_dir}",
             f"data.train=him2k:{data}", "data.output=64", "interpreter.width=32", "interpreter.queries=4",
             "interpreter.layers=2", "interpreter.heads=4", "optim.batch_size=1", "checkpoint_every=1",
             "progress=false", "log_every=1", "data.workers=0"]
    assert main(train + ["optim.max_steps=1"]) == 0
    assert main(train + ["optim.max_steps=2", "--resume"]) == 0  # continues from step 1, inside epoch 0
    weights = run / "checkpoints" / "step-00000002.safetensors"
    interpreter, timestep = read_interpreter(weights)
    assert timestep == 100 and interpreter.options["channels"] == model.channels()
    log = (run / "log.csv").read_text().splitlines()
    assert [row.split(",")[:2] for row in log] == [["epoch", "step"], ["0", "1"], ["0", "2"]]
    assert main(train + ["optim.max_steps=2", f"run_dir={tmp_path / 'straight'}"]) == 0  # stopping changes nothing
    assert (tmp_path / "straight" / "log.csv").read_text().splitlines()[2].split(",")[2] == log[2].split(",")[2]

    known = write_interpreter(constant_interpreter(model.channels()), tmp_path / "known.safetensors", timestep=50)
    out = tmp_path / "set"
    command = ["synthesize", "--generate", "3", "--model", str(model_dir), "--interpreter", str(known),
               "-o", str(out), "--steps", "2", "--size", "64", "--min-instances", "1", "--no-progress"]
    assert main(command) == 0
    him = HIM2K(out, "comp")
    assert him.image_names == ["comp/000000", "comp/000001", "comp/000002"]
    for name in him.image_names:
        sample = him.load_instances(name)
        assert sample.image.shape == (64, 64, 3) and len(sample.alphas) == 1
        assert np.allclose(sample.alphas[0], 204 / 255)
    captions = json.loads((out / "captions.json").read_text())
    assert list(captions.values()) == scene_prompts(3, seed=0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["generated"], manifest["kept"], manifest["instances"]) == (3, 3, 3)
    assert manifest["images"][0]["probabilities"] == [round(1 / (1 + np.exp(-5.0)), 4)]

    # the images on disk are the sampler's (regenerated from the record's seed); the set is scored by IMQ
    record = manifest["images"][1]
    assert np.array_equal(diffusion.generate(model, record["prompt"], 2, 64, record["seed"])[1],
                          him.load_instances("comp/000001").image)
    truth = [him.load_instances(n).alphas for n in him.image_names]
    scores = imq([(alphas, alphas) for alphas in truth] + [([np.zeros((64, 64))], truth[0])])[0.5]
    assert scores["rq"] == pytest.approx(3 / 4, abs=1e-5)  # 3 hits; a blank prediction: one FP, one FN

    stamps = {p: p.stat().st_mtime_ns for p in (out / "records").iterdir()}
    assert main(command) == 0  # a finished set: resuming redoes nothing
    assert {p: p.stat().st_mtime_ns for p in (out / "records").iterdir()} == stamps
    assert main(command[:-1] + ["--steps", "3", "--no-progress"]) == 2  # other settings: refused


def test_filters_reject_images_and_say_why(model, model_dir, tmp_path):
    weights = write_interpreter(constant_interpreter(model.channels(), logit=1.0), tmp_path / "w.safetensors", 50)
    out = tmp_path / "none"
    base = ["synthesize", "--generate", "1", "--model", str(model_dir), "--interpreter", str(weights), "--steps", "1",
            "--size", "64", "--no-progress"]
    assert main(base + ["-o", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kept"] == 0 and manifest["images"][0]["reason"] == "1 people, not 2..10"
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("\n  two people on a beach \n\n")
    base[1:3] = ["--prompts", str(sentences)]
    assert main(base + ["-o", str(tmp_path / "unsure"), "--min-instances", "1"]) == 0
    manifest = json.loads((tmp_path / "unsure" / "manifest.json").read_text())
    assert manifest["images"][0]["reason"] == "confidence 0.731 < 0.8"
    assert manifest["images"][0]["prompt"] == "two people on a beach"
    assert not (out / "images").exists() and not (tmp_path / "unsure" / "images").exists()


def test_synthesize_errors_are_one_sentence_and_leave_nothing(model, model_dir, tmp_path, capsys):
    weights = write_interpreter(constant_interpreter(model.channels()), tmp_path / "w.safetensors", 50)
    out = tmp_path / "out"
    base = ["synthesize", "--generate", "1", "--interpreter", str(weights), "-o", str(out)]
    assert main(base + ["--model", str(tmp_path / "no-such-model")]) == 1
    assert "is not a folder; give the local folder of a Stable Diffusion model" in capsys.readouterr().err
    assert main(base + ["--model", str(model_dir), "--interpreter", str(model_dir / "unet" /
                                                                       "diffusion_pytorch_model.safetensors")]) == 1
    assert "is not an interpreter written by mattekit train" in capsys.readouterr().err
    (tmp_path / "empty.txt").write_text("\n \n")
    assert main(["synthesize", "--prompts", str(tmp_path / "empty.txt"), "--model", str(model_dir),
                 "--interpreter", str(weights), "-o", str(out)]) == 1
    assert "holds no sentences" in capsys.readouterr().err
    assert not out.exists()
